"""The learned caller's realignment evidence (pair_hmm.py, learned_realign.py) on reads neither designed by
hand nor aligned by us: labstream's simulator on a synthetic genome, minimap2's alignments, the simulator's
truth; CIGAR gaps left-aligned as `bcftools norm` writes them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pysam
import pytest

from labstream.genomics.evaluate import load_genotypes
from labstream.genomics.learned import read_reference
from labstream.genomics.learned_realign import ReadBank, left_aligned_indel, realign_features
from labstream.genomics.pair_hmm import encode, read_likelihood


def test_pair_hmm_prefers_the_haplotype_a_read_came_from() -> None:
    rng = np.random.default_rng(3)
    hap = "".join(rng.choice(list("ACGT"), 300))
    deleted = hap[:140] + hap[148:]
    q = np.full(100, 30, np.uint8)
    read = encode(deleted[90:190])  # spans the 8-bp deletion, 50 bases either side
    ll_alt = read_likelihood(read, q, encode(deleted))
    ll_ref = read_likelihood(read, q, encode(hap))
    assert ll_alt == pytest.approx(100 * np.log10(1 - 10**-3))  # every base matches: P(no error)^100
    assert ll_alt - ll_ref > 3  # under REF the read needs an 8-base gap (or mismatches): far less likely
    one_error = read.copy()
    one_error[10] = (one_error[10] + 1) % 4
    assert read_likelihood(one_error, q, encode(deleted)) == pytest.approx(
        ll_alt - np.log10(1 - 10**-3) + np.log10(10**-3 / 3)
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory):  # type: ignore[no-untyped-def]
    from labstream.instruments.synthetic_genome import write_synthetic_fasta
    from labstream.instruments.training_sets import simulated_sample

    base = tmp_path_factory.mktemp("realign")
    fa = write_synthetic_fasta(base / "g.fa", 12_000, 77)
    return simulated_sample("sequencer", fa, base / "s", seed=77, coverage=20.0, threads=1)


def test_truth_deletions_gather_reads_the_aligner_did_not_gap(sample) -> None:  # type: ignore[no-untyped-def]
    sequences = read_reference(sample.reference)
    truth = load_genotypes(sample.truth_vcf, sample.reference)
    dels = [k for k in truth if len(k[2]) - len(k[3]) >= 4]
    assert dels, "the simulator wrote no deletion of 4+ bases"
    bank = ReadBank.from_bam(sample.bam)
    gapped = bank.gap_keys(sequences)
    # a false allele of the same shape: the same deletion 40 bases on, where the genome has none
    fake = [(c, p + 40, sequences[c][p + 39 : p + 39 + len(r)], sequences[c][p + 39]) for c, p, r, _a in dels]
    fake = [k for k in fake if not any(abs(k[1] - t[1]) < 60 for t in truth)]
    encoded = {c: encode(s) for c, s in sequences.items()}
    real, false = realign_features(dels, encoded, bank), realign_features(fake, encoded, bank)
    for key, row in zip(dels, real, strict=True):
        assert row[1] >= 0.75 * min(gapped.get(key, 0), 24), key  # about the reads whose CIGAR has the gap
        assert row[4] > 0 or row[0] < 5, key  # 0/1 beats 0/0 wherever there are reads
    assert sum(row[1] for row in real) > sum(gapped.get(k, 0) for k in dels)  # soft-clipped reads count too
    assert all(row[1] == 0 and row[4] < 0 for row in false)


def test_cigar_gaps_are_left_aligned_as_bcftools_norm_writes_them(sample, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sequences = read_reference(sample.reference)
    keys = sorted(ReadBank.from_bam(sample.bam).gap_keys(sequences))
    assert keys
    contig = next(iter(sequences))
    seq = sequences[contig]
    # a deletion written at the right end of a homopolymer, as an aligner may: left-aligned to its start
    run = next(i for i in range(1, len(seq) - 5) if seq[i] == seq[i + 1] == seq[i + 2] != seq[i - 1])
    keys.append(left_aligned_indel(seq, contig, run + 2, 1, ""))
    raw = tmp_path / "raw.vcf"
    lines = ["##fileformat=VCFv4.2", *(f"##contig=<ID={c},length={len(s)}>" for c, s in sequences.items()),
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]  # fmt: skip
    lines += [
        f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t." for c, p, r, a in sorted(set(keys), key=lambda k: (k[0], k[1]))
    ]
    raw.write_text("\n".join(lines) + "\n")
    normed = subprocess.run(
        ["bcftools", "norm", "-f", str(sample.reference.path), str(raw)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with pysam.VariantFile(str(raw)) as fh:
        before = sorted((r.chrom, r.pos, r.ref, r.alts[0]) for r in fh)
    after = sorted(
        (f[0], int(f[1]), f[3], f[4]) for f in (x.split("\t") for x in normed.splitlines() if x[:1] != "#")
    )
    assert before == after
    assert keys[-1][1] == run  # 1-based anchor: the base before the run


def test_a_read_of_another_allele_at_the_locus_is_not_evidence() -> None:
    from labstream.genomics.learned_realign import Read

    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 500))
    swap = {"A": "C", "C": "G", "G": "T", "T": "A"}
    # one haplotype: an 8-base deletion after base 200 (1-based) and two SNPs 2 bases apart at 351 and 353
    hap = seq[:200] + seq[208:350] + swap[seq[350]] + seq[351] + swap[seq[352]] + seq[353:]
    q = np.full(100, 30, np.uint8)
    reads = [Read(s, s + 108, encode(hap[s : s + 100]), q) for s in range(130, 190, 6)]  # span the deletion
    reads += [Read(s + 8, s + 108, encode(hap[s : s + 100]), q) for s in range(260, 330, 7)]  # span the SNPs
    bank = ReadBank({"c": sorted(reads, key=lambda r: r.start)})
    k8 = ("c", 200, seq[199:208], seq[199])
    k3 = ("c", 200, seq[199:203], seq[199])
    snps = [("c", 351 + i, seq[350 + i], swap[seq[350 + i]]) for i in (0, 2)]
    ref = {"c": encode(seq)}
    alone = realign_features([k3], ref, bank)[0]
    together = realign_features([k8, k3, *snps], ref, bank)
    assert alone[1] > 0  # against REF alone, the 3-base deletion explains the reads better
    assert together[0][1] == 10 and together[1][1] == 0  # the 8-base deletion takes them
    assert together[2][1] == together[3][1] == 10 and together[2][2] == together[3][2] == 0  # the pair in cis


def test_an_allele_that_spells_the_candidate_does_not_take_its_reads(sample) -> None:  # type: ignore[no-untyped-def]
    """A freebayes complex allele containing a SNP (or the SNP written from the base before it) is a
    haplotype "without" the SNP that equals one "with" it: left in, every read scores d = 0 for both."""
    sequences = read_reference(sample.reference)
    truth = load_genotypes(sample.truth_vcf, sample.reference)
    snps = sorted(k for k in truth if len(k[2]) == len(k[3]) == 1)
    snps = [k for i, k in enumerate(snps) if i == 0 or k[1] - snps[i - 1][1] > 80][::4][:8]
    snps = [k for k in snps if not any(0 < abs(t[1] - k[1]) < 40 for t in truth)]
    assert len(snps) >= 4
    padded = [(c, p - 1, sequences[c][p - 2] + r, sequences[c][p - 2] + a) for c, p, r, a in snps]
    encoded = {c: encode(s) for c, s in sequences.items()}
    bank = ReadBank.from_bam(sample.bam)
    alone = realign_features(snps, encoded, bank)
    both = realign_features([*snps, *padded], encoded, bank)
    assert (alone[:, 1] >= 3).all()  # the SNPs alone: reads for ALT
    np.testing.assert_array_equal(both[: len(snps)], alone)  # the SNP keeps its reads ...
    # ... and its padded spelling has the same evidence (it reaches reads one base earlier: depth may differ)
    np.testing.assert_allclose(both[len(snps) :, 1:], alone[:, 1:], rtol=1e-9)
    # version 1 (what models before the fix were trained on, and still call with) keeps the old evidence
    assert (realign_features([*snps, *padded], encoded, bank, version=1)[:, 1] == 0).all()


def test_a_read_two_alleles_in_a_tandem_repeat_explain_equally_goes_to_the_one_more_cigars_write() -> None:
    """Session 13 (REALIGN_VERSION 3): a 1-base deletion in a (GCCTAA)n array, and the same deletion plus one
    whole repeat unit, which two reads' CIGARs also wrote (C. elegans chromosome I, 915,261). Reads inside the
    array fit both equally, so under version 2 each allele's "without" haplotype (the other alone) cancels
    every read and neither gets any: the model dropped the true one."""
    from labstream.genomics.learned_realign import Read

    rng = np.random.default_rng(5)
    flank = lambda: "".join(rng.choice(list("ACGT"), 60))  # noqa: E731
    seq = flank() + "GCCTAA" * 12 + flank()
    at = 60 + 6 * 5 + 5  # the second A of the sixth unit
    hap = seq[:at] + seq[at + 1 :]
    short = left_aligned_indel(seq, "c", at, 1, "")
    long = left_aligned_indel(seq, "c", at, 7, "")
    assert short != long and len(short[2]) - len(short[3]) == 1 and len(long[2]) - len(long[3]) == 7
    # eight reads of the deleted haplotype, 30 bases, inside the array (they cannot see its length)
    reads = [Read(s, s + 30, encode(hap[s : s + 30]), np.full(30, 30, np.uint8)) for s in range(66, 74)]
    bank = ReadBank({"c": reads})
    encoded = {"c": encode(seq)}
    v2 = realign_features([short, long], encoded, bank, version=2)
    assert (v2[:, 1] == 0).all()  # neither allele gets a read
    cigars = {short: 7, long: 2}
    v3 = realign_features([short, long], encoded, bank, version=3, cigar_reads=cigars)
    assert v3[0, 1] == len(reads) and v3[0, 4] > 0  # the allele most CIGARs write takes them
    assert v3[1, 1] == 0  # the weaker one still gets none
    # equal CIGAR counts: no reason to pick one, so the tie stays as version 2 had it
    even = realign_features([short, long], encoded, bank, version=3, cigar_reads={short: 3, long: 3})
    np.testing.assert_array_equal(even, v2)
    # a read that fits the weaker allele clearly better (it reaches past the array's end) stays against
    hap_long = seq[:at] + seq[at + 7 :]
    spanning = Read(80, 150, encode(hap_long[80:150]), np.full(70, 30, np.uint8))
    mixed = realign_features(
        [short, long], encoded, ReadBank({"c": [*reads, spanning]}), version=3, cigar_reads=cigars
    )
    assert mixed[0, 1] == len(reads) and mixed[0, 2] == 1
