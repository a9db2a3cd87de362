"""Cohort benchmark: prints ONE JSON object. msprime genotypes with coverage gaps and no-calls (known truth).

Builds a cohort of --samples samples (written directly as cohort rows, in batches of --batch, one Delta
version each), compacts, then measures: adding one more sample (time, bytes written vs that sample's own
bgzipped gVCF), whole-cohort AC/AN/AF for all sites (warm), a 50% sub-cohort, a 1 Mb region and a point
query (warm, median of 5), AN/AC exactness against the truth at every site, storage bits per genotype and
peak RSS. Baseline in the same run, on the same per-sample gVCFs: `bcftools merge --gvcf | norm -m-any |
+fill-tags` over --bcftools-samples samples (the baseline redoes the whole merge for every new sample);
its AC/AN are also compared with the store's on those samples.

Usage: python bench/cohort.py [--samples 1000] [--length 20000000] [--bcftools-samples 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import pyarrow as pa  # noqa: E402
from _cohort_figures import query_and_size, timed  # noqa: E402

from labstream.cohort import CohortStore, allele_stats  # noqa: E402
from labstream.cohort.bcftools import bcftools_allele_counts  # noqa: E402
from labstream.instruments.cohort_sim import sample_calls, simulate_cohort, write_gvcf, write_reference  # noqa: E402
from labstream.lake import open_lake  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--length", type=int, default=20_000_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--max-block", type=int, default=10_000)
    ap.add_argument("--bcftools-samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n, mb = a.samples, a.max_block
    out: dict = {"samples": n, "length_bp": a.length, "max_block": mb}
    work = Path(tempfile.mkdtemp(prefix="bench-cohort-"))
    try:
        c, out["simulate_s"] = timed(
            lambda: simulate_cohort(
                n + 1, a.length, a.seed, gaps_per_sample=2, gap_len=20_000, nocall_rate=0.01
            )
        )
        out["sites"] = int(len(c.positions))
        store = CohortStore(open_lake(work / "lake"), max_block=mb)
        t0 = time.perf_counter()
        for lo in range(0, n, a.batch):
            store.add(pa.concat_tables([sample_calls(c, j, mb) for j in range(lo, min(n, lo + a.batch))]))
        out["build_s"] = round(time.perf_counter() - t0, 2)
        _, out["compact_s"] = timed(store.compact)
        allele_stats(store)  # warm the cached summary
        add, out["add_one_s"] = timed(lambda: store.add(sample_calls(c, n, mb)))
        out["add_one_bytes"] = add.bytes_written
        ref = write_reference(c, work / "ref.fa")
        own = write_gvcf(c, n, ref, work / "newest.g.vcf.gz")
        out["add_one_gvcf_bytes"] = own.stat().st_size
        out["add_one_bytes_over_gvcf"] = round(add.bytes_written / own.stat().st_size, 2)
        st, out["af_all_s"] = timed(lambda: allele_stats(store), 3)
        truth_ac, truth_an = c.truth()
        truth = {
            (int(p), r, x): (int(u), int(v))
            for p, r, x, u, v in zip(c.positions, c.ref, c.alt, truth_ac, truth_an, strict=True)
        }
        got = {
            (s, r, x): (u, v)
            for s, r, x, u, v in zip(
                *[st[k].to_pylist() for k in ("start", "ref", "alt", "ac", "an")], strict=True
            )
        }
        out["sites_with_alt_called"] = len(got)
        out["an_exact_fraction"] = sum(truth[k] == v for k, v in got.items()) / max(1, len(got))
        out["missing_sites"] = sum(1 for k, v in truth.items() if v[0] > 0 and k not in got)
        newest = {
            (int(c.positions[i]), c.ref[i], c.alt[i])
            for i in range(len(c.positions))
            if c.genotypes[i, n] > 0 and not c.genotypes[i, :n].any()
        }
        out["sites_first_seen_in_newest"] = len(newest)
        out["newest_sites_exact"] = all(got.get(k) == truth[k] for k in newest if truth[k][0] > 0)
        half = c.names[: (n + 1) // 2]
        _, out["subcohort_af_s"] = timed(lambda: allele_stats(store, samples=half))
        mid = int(c.positions[len(c.positions) // 2])
        out |= query_and_size(store, c.contig, mid, n + 1, len(c.positions))
        k = min(a.bcftools_samples, n + 1)
        gdir = work / "gvcf"
        gdir.mkdir()
        t0 = time.perf_counter()
        gvcfs = [write_gvcf(c, j, ref, gdir / f"{c.names[j]}.g.vcf.gz") for j in range(k)]
        out["bcftools_samples"] = k
        out["write_gvcfs_s"] = round(time.perf_counter() - t0, 2)
        bc, out["bcftools_af_all_s"] = timed(lambda: bcftools_allele_counts(gvcfs, ref, threads=2))
        sub = CohortStore(open_lake(work / "sub"), max_block=mb)
        _, out["store_build_same_k_s"] = timed(lambda: [sub.add_gvcf(p) for p in gvcfs])
        sub.compact()
        mine, out["store_af_all_same_k_s"] = timed(lambda: allele_stats(sub), 3)
        mine_d = {(r["contig"], r["start"], r["ref"], r["alt"]): (r["ac"], r["an"]) for r in mine.to_pylist()}
        out["bcftools_agreement"] = sum(mine_d.get(kk) == v for kk, v in bc.items()) / max(1, len(bc))
        out["bcftools_sites"] = len(bc)
        out["speedup_af_vs_bcftools_same_k"] = round(
            out["bcftools_af_all_s"] / out["store_af_all_same_k_s"], 1
        )
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        out["peak_rss_children_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        for key in (
            "simulate_s",
            "compact_s",
            "add_one_s",
            "af_all_s",
            "subcohort_af_s",
            "bcftools_af_all_s",
            "store_build_same_k_s",
            "store_af_all_same_k_s",
        ):
            out[key] = round(out[key], 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
