"""Mason (SeqAn's variant and read simulators, evaluation only): its VCF made valid, its truth what an
independent caller finds in its reads."""

from __future__ import annotations

from pathlib import Path

import pysam

from labstream.genomics.align import align_reads
from labstream.genomics.call import call_variants
from labstream.genomics.evaluate import evaluate
from labstream.genomics.reference import open_reference
from labstream.instruments.mason_run import simulate_mason, truth_from_mason

MT = "/usr/share/doc/minimap2/test/MT-human.fa.gz"
MASON_VCF = (
    "##fileformat=VCFv4.1\n##source=mason_variator\n##contig=<ID=c,length=100>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tsimulated\n"
    "c\t18\tsim_snp_0\tC\tA,G\t.\tPASS\t.\t.\t2|1\n"
    "c\t40\tsim_small_indel_0\tTTTC\tT\t.\tPASS\t.\t.\t0|1\n"
    "c\t70\tsim_sv_0\tA\t<INV>\t.\tPASS\tEND=90\t.\t1|1\n"
)


def test_mason_vcf_gets_a_gt_format_and_the_sample_name(tmp_path: Path) -> None:
    out = tmp_path / "t.vcf"
    out.write_text(truth_from_mason(MASON_VCF, "S"))
    with pysam.VariantFile(str(out)) as fh:
        assert list(fh.header.samples) == ["S"]
        got = [(r.pos, r.alts, r.samples["S"]["GT"]) for r in fh]
    # the symbolic structural variant is dropped; the tri-allelic SNP keeps both ALTs and its phase
    assert got == [(18, ("A", "G"), (2, 1)), (40, ("T",), (0, 1))]


def test_mason_truth_is_what_bcftools_calls_from_its_reads(tmp_path: Path) -> None:
    run = simulate_mason(MT, tmp_path, coverage=40, seed=5, snp_rate=0.006, indel_rate=0.002)
    ref = open_reference(run.reference)
    bam = align_reads(ref, run.r1, run.r2, tmp_path / "S.bam", sample="S", threads=2, markdup=True).bam
    m = evaluate(ref, run.truth_vcf, call_variants(ref, bam, tmp_path / "c.vcf.gz", threads=2))
    assert m["SNP"].truth > 60 and m["INDEL"].truth > 15
    assert m["SNP"].f1 > 0.97 and m["INDEL"].f1 > 0.85 and m["SNP"].genotype_concordance > 0.95
    assert run.pairs == int(16569 * 40 / 300)
