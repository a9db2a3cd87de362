"""Consequences by codon translation on hand-built genes (both strands) and known-variant significance."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.genomics.annotate import Annotator
from labstream.genomics.reference import open_reference

PLUS_CDS = "ATGAAATGGGAACCCTAA"  # M K W E P *, genomic 11..28 on +
MINUS_TX = "ATGGCTTGGTAG"  # M A W *, on the minus strand at genomic 41..52
COMP = str.maketrans("ACGT", "TGCA")


@pytest.fixture()
def annotator(tmp_path: Path) -> Annotator:
    seq = "CCCCCCCCCC" + PLUS_CDS + "CCCCCCCCCCCC" + MINUS_TX.translate(COMP)[::-1] + "C" * 20
    assert seq[10:28] == PLUS_CDS and len(seq) == 72
    (tmp_path / "ref.fa").write_text(">c1\n" + seq + "\n")
    (tmp_path / "genes.gff3").write_text(
        "##gff-version 3\n"
        "c1\tt\tgene\t11\t28\t.\t+\t.\tID=g1;Name=PLUS1\n"
        "c1\tt\tmRNA\t11\t28\t.\t+\t.\tID=tx1;Parent=g1\n"
        "c1\tt\tCDS\t11\t28\t.\t+\t0\tID=cds1;Parent=tx1\n"
        "c1\tt\tgene\t41\t52\t.\t-\t.\tID=g2;Name=MINUS1\n"
        "c1\tt\tCDS\t41\t52\t.\t-\t0\tID=cds2;Parent=g2\n"
    )
    (tmp_path / "known.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=c1,length=72>\n"
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="sig">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nc1\t14\trs1\tA\tT\t.\tPASS\tCLNSIG=Pathogenic\n"
    )
    ref = open_reference(tmp_path / "ref.fa")
    return Annotator(ref, tmp_path / "genes.gff3", tmp_path / "known.vcf")


@pytest.mark.parametrize(
    ("pos", "ref", "alt", "gene", "term", "change"),
    [
        (16, "A", "G", "PLUS1", "synonymous_variant", "p.K2K"),  # AAA -> AAG
        (14, "A", "T", "PLUS1", "stop_gained", "p.K2*"),  # AAA -> TAA
        (19, "G", "T", "PLUS1", "missense_variant", "p.W3C"),  # TGG -> TGT
        (26, "T", "C", "PLUS1", "stop_lost", "p.*6Q"),  # TAA -> CAA
        (11, "A", "C", "PLUS1", "start_lost", "p.M1L"),  # ATG -> CTG
        (20, "GA", "G", "PLUS1", "frameshift_variant", ""),
        (19, "GGAA", "G", "PLUS1", "inframe_deletion", ""),
        (22, "A", "ACCC", "PLUS1", "inframe_insertion", ""),
        (47, "A", "G", "MINUS1", "synonymous_variant", "p.A2A"),  # minus strand: GCT -> GCC
        (45, "C", "T", "MINUS1", "stop_gained", "p.W3*"),  # minus strand: TGG -> TAG
        (5, "C", "A", "", "intergenic_variant", ""),
    ],
)
def test_consequences(annotator: Annotator, pos, ref, alt, gene, term, change) -> None:  # type: ignore[no-untyped-def]
    a = annotator.annotate("c1", pos, ref, alt)
    assert (a.gene, a.consequence, a.protein_change) == (gene, term, change)


def test_known_significance(annotator: Annotator) -> None:
    a = annotator.annotate("c1", 14, "A", "T")
    assert (a.clnsig, a.known_id) == ("Pathogenic", "rs1")
    assert annotator.annotate("c1", 14, "A", "G").clnsig == ""


def test_gff3_on_other_contigs_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "ref.fa").write_text(">c1\nACGTACGTAC\n")
    (tmp_path / "g.gff3").write_text("##gff-version 3\nchr9\tt\tCDS\t1\t9\t.\t+\t0\tID=x\n")
    with pytest.raises(InputError) as ei:
        Annotator(open_reference(tmp_path / "ref.fa"), tmp_path / "g.gff3")
    assert "g.gff3" in str(ei.value) and "chr9" in str(ei.value) and ei.value.record == "2"


@pytest.mark.parametrize(
    ("pos", "ref", "alt", "c", "p"),
    [
        (16, "A", "G", "c.6A>G", "p.(Lys2=)"),
        (14, "A", "T", "c.4A>T", "p.(Lys2Ter)"),
        (19, "G", "T", "c.9G>T", "p.(Trp3Cys)"),
        # hand-worked HGVS 3' rule: one A of GAA (c.10_12) deleted is the 3'-most A, c.12
        (20, "GA", "G", "c.12del", "p.(Glu4fs)"),
        (19, "GGAA", "G", "c.10_12del", "p.(Glu4del)"),
        # CCC inserted after c.12, before CCC (c.13_15): shifted 3' it repeats c.13_15, a duplication
        (22, "A", "ACCC", "c.13_15dup", "p.(Pro5dup)"),
        # minus strand: one T of TT (c.6_7, genomic 47/46) deleted or added is c.7, where bcftools'
        # left-aligned record already is (genomic left = transcript 3')
        (45, "CA", "C", "c.7del", "p.(Trp3fs)"),
        (45, "C", "CA", "c.7dup", "p.(Trp3fs)"),
        (47, "A", "G", "c.6T>C", "p.(Ala2=)"),  # minus strand: complemented, counted from genomic 52
        (45, "C", "T", "c.8G>A", "p.(Trp3Ter)"),
        (5, "C", "A", "", ""),
    ],
)
def test_hgvs_c_and_p(annotator: Annotator, pos, ref, alt, c, p) -> None:  # type: ignore[no-untyped-def]
    """The report's HGVS columns come from the same CDS model as the consequence."""
    a = annotator.annotate("c1", pos, ref, alt)
    assert (a.hgvs_c, a.hgvs_p) == (c, p)
