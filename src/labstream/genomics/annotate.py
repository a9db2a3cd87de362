"""Annotation: gene and consequence from a GFF3 by codon translation, significance from a known-variants VCF.

Consequences (Sequence Ontology terms): synonymous_variant, missense_variant, stop_gained (nonsense),
stop_lost, start_lost, frameshift_variant, inframe_insertion, inframe_deletion, intron_variant (inside a
gene but not its CDS), intergenic_variant. Codons are built from the transcript's CDS segments in
transcript order (reverse-complemented on the minus strand) and translated with Biopython's standard
table, so strand and multi-exon genes are handled the same way. Variants are expected normalised (one
ALT, left-aligned, anchor base for indels): the anchor base is skipped when deciding CDS overlap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

import pysam
from Bio.Seq import Seq

from labstream.core.errors import InputError
from labstream.genomics.hgvs import hgvs_c, indel_p, three_letter
from labstream.genomics.reference import Reference

_RC = str.maketrans("ACGTN", "TGCAN")


@dataclass
class Transcript:
    id: str
    gene: str
    contig: str
    strand: str
    cds: list[tuple[int, int]] = field(default_factory=list)  # 1-based inclusive, genomic order
    gene_span: tuple[int, int] = (0, 0)

    @property
    def start(self) -> int:
        return min(s for s, _ in self.cds)

    @property
    def end(self) -> int:
        return max(e for _, e in self.cds)

    def cds_index(self, pos: int) -> int | None:
        """0-based offset of genomic `pos` in the CDS (transcript orientation), None outside it."""
        off = 0
        segs = self.cds if self.strand == "+" else list(reversed(self.cds))
        for s, e in segs:
            if s <= pos <= e:
                return off + (pos - s if self.strand == "+" else e - pos)
            off += e - s + 1
        return None


@dataclass(frozen=True)
class Annotation:
    gene: str = ""
    transcript: str = ""
    consequence: str = "intergenic_variant"
    protein_change: str = ""
    clnsig: str = ""
    known_id: str = ""
    hgvs_c: str = ""  # c.123A>G on `transcript` (hgvs.py)
    hgvs_p: str = ""  # p.(Lys41Asn), three-letter, predicted


def load_gff3(path: str | Path, ref: Reference) -> dict[str, list[Transcript]]:
    """Transcripts with CDS per contig, sorted by start; raises InputError on malformed lines or contigs."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "GFF3 annotation does not exist")
    feats: dict[str, dict[str, str]] = {}
    cds: dict[str, list[tuple[str, int, int, str]]] = defaultdict(list)
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if line.startswith("##FASTA"):
            break
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 9:
            raise InputError(str(p), f"GFF3 line has {len(f)} columns, not 9", record=str(n))
        try:
            start, end = int(f[3]), int(f[4])
        except ValueError as err:
            raise InputError(str(p), f"bad start/end {f[3]!r}/{f[4]!r}", record=str(n)) from err
        attrs = dict(kv.split("=", 1) for kv in f[8].split(";") if "=" in kv)
        attrs = {k: unquote(v) for k, v in attrs.items()}
        if f[0] not in ref.contigs:
            raise InputError(
                str(p),
                f"contig {f[0]!r} is not in the reference",
                record=str(n),
                hint="use the annotation of the same reference build",
            )
        if "ID" in attrs:
            feats[attrs["ID"]] = {**attrs, "type": f[2], "span": f"{start}-{end}"}
        if f[2] == "CDS":
            for parent in attrs.get("Parent", attrs.get("ID", f"cds{n}")).split(","):
                cds[parent].append((f[0], start, end, f[6]))
    out: dict[str, list[Transcript]] = defaultdict(list)
    for parent, segs in cds.items():
        feat = feats.get(parent, {})
        gene_feat = feats.get(feat.get("Parent", ""), feat) if feat.get("type") != "gene" else feat
        gene = gene_feat.get("Name") or gene_feat.get("gene") or gene_feat.get("ID") or parent
        span = tuple(int(x) for x in gene_feat.get("span", "0-0").split("-"))
        t = Transcript(
            parent, gene, segs[0][0], segs[0][3], sorted((s, e) for _, s, e, _ in segs), (span[0], span[1])
        )
        out[t.contig].append(t)
    for lst in out.values():
        lst.sort(key=lambda t: t.start)
    return dict(out)


def _aa(codon: str) -> str:
    return str(Seq(codon).translate()) if len(codon) == 3 and "N" not in codon else "X"


def consequence(t: Transcript, ref: Reference, pos: int, ref_allele: str, alt: str) -> tuple[str, str]:
    """(SO term, protein change like p.K12N) for one normalised variant on one transcript."""
    if len(ref_allele) != len(alt):
        # indel: the first base is the shared anchor; the change spans the bases after it
        first, last = pos + 1, pos + max(len(ref_allele), 1) - 1 if len(ref_allele) > len(alt) else pos + 1
        touched = [p for p in range(first, max(first, last) + 1) if t.cds_index(p) is not None]
        if not touched:
            return "intron_variant", ""
        delta = len(alt) - len(ref_allele)
        if delta % 3:
            return "frameshift_variant", ""
        return ("inframe_insertion" if delta > 0 else "inframe_deletion"), ""
    segs = t.cds if t.strand == "+" else list(reversed(t.cds))
    cds_seq = "".join(ref.fetch(t.contig, s - 1, e) for s, e in t.cds)
    if t.strand == "-":
        cds_seq = cds_seq.translate(_RC)[::-1]
    del segs
    mutated = list(cds_seq)
    changed: list[int] = []
    for k, (r, a) in enumerate(zip(ref_allele, alt, strict=True)):
        i = t.cds_index(pos + k)
        if i is None or r == a:
            continue
        mutated[i] = a if t.strand == "+" else a.translate(_RC)
        changed.append(i)
    if not changed:
        return "intron_variant", ""
    codons = sorted({i // 3 for i in changed})
    c = codons[0]
    before = "".join(_aa(cds_seq[3 * j : 3 * j + 3]) for j in codons)
    after = "".join(_aa("".join(mutated[3 * j : 3 * j + 3])) for j in codons)
    change = f"p.{before}{c + 1}{after}"
    if before == after:
        return "synonymous_variant", change
    if c == 0 and before[0] == "M":
        return "start_lost", change
    if "*" in after and "*" not in before:
        return "stop_gained", change
    if "*" in before and "*" not in after:
        return "stop_lost", change
    return "missense_variant", change


class Annotator:
    """Annotate normalised variants; `known` maps (contig, pos, ref, alt) to (id, CLNSIG)."""

    def __init__(self, ref: Reference, gff3: str | Path | None = None, known_vcf: str | Path | None = None):
        self.ref = ref
        self.transcripts = load_gff3(gff3, ref) if gff3 else {}
        self._starts = {c: [t.start for t in ts] for c, ts in self.transcripts.items()}
        self.known: dict[tuple[str, int, str, str], tuple[str, str]] = {}
        if known_vcf:
            self._load_known(Path(known_vcf))

    def _load_known(self, path: Path) -> None:
        import tempfile

        from labstream.genomics.call import normalize_vcf

        with tempfile.TemporaryDirectory(prefix="labstream-known-") as tmp:
            norm = normalize_vcf(self.ref, path, Path(tmp) / "known.vcf.gz")
            with pysam.VariantFile(str(norm)) as fh:
                has_sig = "CLNSIG" in fh.header.info
                for rec in fh:
                    for alt in rec.alts or ():
                        sig = rec.info.get("CLNSIG", "") if has_sig else ""
                        sig = ",".join(sig) if isinstance(sig, tuple) else str(sig or "")
                        self.known[(rec.chrom, rec.pos, rec.ref, alt)] = (rec.id or "", sig)

    def annotate(self, contig: str, pos: int, ref_allele: str, alt: str) -> Annotation:
        kid, sig = self.known.get((contig, pos, ref_allele, alt), ("", ""))
        end = pos + len(ref_allele) - 1
        ts = self.transcripts.get(contig, [])
        hits = [t for t in ts[: bisect_right(self._starts.get(contig, []), end)] if t.end >= pos]
        best = Annotation(clnsig=sig, known_id=kid)
        rank = {
            "frameshift_variant": 0,
            "stop_gained": 1,
            "stop_lost": 2,
            "start_lost": 3,
            "inframe_insertion": 4,
            "inframe_deletion": 4,
            "missense_variant": 5,
            "synonymous_variant": 6,
            "intron_variant": 7,
            "intergenic_variant": 8,
        }
        chosen: Transcript | None = None
        for t in hits:
            term, change = consequence(t, self.ref, pos, ref_allele, alt)
            if rank[term] < rank[best.consequence]:
                best, chosen = Annotation(t.gene, t.id, term, change, sig, kid), t
        if best.consequence == "intergenic_variant":
            for t in ts:
                if t.gene_span[0] <= pos <= t.gene_span[1]:
                    best, chosen = Annotation(t.gene, t.id, "intron_variant", "", sig, kid), t
                    break
        if chosen is None:
            return best
        if len(ref_allele) == len(alt):
            p = three_letter(best.protein_change)
        elif best.consequence in ("intron_variant", "intergenic_variant"):
            p = ""
        else:
            p = indel_p(chosen, self.ref, pos, ref_allele, alt)
        return replace(best, hgvs_c=hgvs_c(chosen, pos, ref_allele, alt, self.ref), hgvs_p=p)


__all__ = ["Annotation", "Annotator", "Transcript", "consequence", "load_gff3"]
