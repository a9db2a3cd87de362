"""What one htsget data request for a small region costs, by the size of the governed (encrypted) BAM.

A client (samtools, IGV, the htsget client) asks for many small regions of one object. Each data
URL decrypts the whole object (and its index) into scratch before cutting the region (api
routes_htsget `_cut` -> `save_plaintext` -> EncryptedStore.open, which decrypts into an anonymous
temp file that is then copied), so a request's cost follows the object's size, not the region's.
Measured per size in `--mib`: a coordinate-sorted BAM (random 150-bp reads on two contigs, with its
.bai) registered as an encrypted object of one project; the app in process (FastAPI TestClient), a
viewer's ticket for a 1-kb region, then `--requests` data requests of it (`first_s`, and the median
of the rest `repeat_s`); every answer must be the same bytes. `decrypt_copy_s`: the part of a request
that is the whole object's plaintext written to scratch (`save_plaintext`, timed alone).

Baseline: the smallest size, in the same run (`growth`: repeat_s at the largest / at the smallest).
Not fixed yet: a cache of decrypted copies must keep what each read does now (archive tiers answer
503 and request a restore, last-access is recorded for lifecycle rules, a shredded key or a deleted
object stops reads); see /work/notes/s9-longrun.md.

    python bench/htsget_data.py [--mib 24 48] [--requests 6]   # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_bam(path: Path, mib: int, seed: int = 5) -> int:
    """A sorted, indexed BAM of about `mib` MiB; returns its number of reads."""
    import pysam

    rng = random.Random(seed)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": "chr1", "LN": 5_000_000}, {"SN": "chr2", "LN": 5_000_000}],
    }
    n = mib * 1024 * 1024 // 74  # ~74 bytes a read compressed (random bases, 64 quality strings)
    positions = sorted((rng.randrange(2), rng.randrange(0, 5_000_000 - 200)) for _ in range(n))
    quals = [
        pysam.qualitystring_to_array("".join(rng.choice("#+5?I") for _ in range(150))) for _ in range(64)
    ]
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, (tid, pos) in enumerate(positions):
            a = pysam.AlignedSegment()
            a.query_name = f"r{i}"
            a.query_sequence = "".join(rng.choices("ACGT", k=150))
            a.reference_id, a.reference_start, a.mapping_quality = tid, pos, 60
            a.cigarstring = "150M"
            a.query_qualities = quals[i % 64]
            out.write(a)
    pysam.index(str(path))
    return n


def child(bam: Path, requests: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from labstream.api.app import create_app
    from labstream.core.settings import Settings
    from labstream.governance.objects import register_file
    from labstream.governance.service import Governance

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        gov = Governance.open(settings)
        gov.directory.add_project("alpha", region="eu")
        gov.directory.add_user("v")
        gov.directory.grant("v", "alpha", "viewer")
        token = gov.directory.create_token("v")[1]
        obj = register_file(gov, bam, project="alpha", kind="bam", index_path=str(bam) + ".bai")
        head = {"Authorization": f"Bearer {token}"}
        scratch = settings.home / "scratch"
        with TestClient(create_app(settings, gov=gov, announce=None)) as client:
            q = {"referenceName": "chr1", "start": 2_000_000, "end": 2_001_000, "format": "BAM"}
            ticket = client.get(f"/reads/{obj.id}", params=q, headers=head)
            ticket.raise_for_status()
            url = ticket.json()["htsget"]["urls"][0]["url"].split("://", 1)[1].split("/", 1)[1]
            times, sizes, peak = [], set(), 0
            for _ in range(requests):
                t0 = time.perf_counter()
                got = client.get("/" + url, headers=head)
                times.append(time.perf_counter() - t0)
                got.raise_for_status()
                sizes.add(len(got.content))
                peak = max(peak, sum(f.stat().st_size for f in scratch.rglob("*") if f.is_file()))
        from labstream.api.routes_ga4gh import save_plaintext

        copies = []  # what each request pays before cutting: the object's plaintext into scratch
        for _ in range(3):
            t0 = time.perf_counter()
            save_plaintext(gov.store("alpha"), obj.uri, scratch / "copy.bam")
            copies.append(time.perf_counter() - t0)
            (scratch / "copy.bam").unlink()
        gov.close()
    assert len(sizes) == 1, f"the same region gave different answers: {sizes}"
    return {
        "first_s": round(times[0], 3),
        "repeat_s": round(statistics.median(times[1:]), 4),
        "response_bytes": sizes.pop(),
        "peak_scratch_mib": round(peak / 2**20, 1),
        "decrypt_copy_s": round(statistics.median(copies), 4),
        "encrypted": obj.uri.endswith(".enc"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, nargs="+", default=[24, 48])
    ap.add_argument("--requests", type=int, default=6)
    ap.add_argument("--child", type=Path)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.requests)), flush=True)
        os._exit(0)  # skip interpreter teardown (delta-rs runtime threads)
    out: dict[str, object] = {"baseline": f"{min(args.mib)} MiB", "region_bp": 1000}
    with tempfile.TemporaryDirectory() as tmp:
        for mib in sorted(args.mib):
            bam = Path(tmp) / f"big{mib}.bam"
            reads = make_bam(bam, mib)
            env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTREAM_")}
            cmd = [sys.executable, __file__, "--child", str(bam), "--requests", str(args.requests)]
            run = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            res = json.loads(run.stdout.strip().splitlines()[-1])
            out[f"{mib}"] = {"bam_mib": round(bam.stat().st_size / 2**20, 1), "reads": reads, **res}
    lo, hi = out[str(min(args.mib))], out[str(max(args.mib))]
    out["growth"] = round(hi["repeat_s"] / lo["repeat_s"], 2)  # type: ignore[index]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
