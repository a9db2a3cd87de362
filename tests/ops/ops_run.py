"""What the shared filestats run (conftest.py `ran`) holds, and the cost rule computed by hand."""

from __future__ import annotations

from typing import Any

SAMPLES = {("alpha", "S1"): 3, ("alpha", "S2"): 2, ("beta", "S3"): 1}


def hand_price(rec: Any, book: dict[str, Any]) -> float:
    """The rule as a lab would compute it on paper: max(request, use) x wall hours x list price."""
    rates = book["regions"]["local"]["classes"]["standard"]
    total = 0.0
    for u in [
        *rec.attempts,
        {
            "wall_seconds": rec.wall_seconds,
            "cpu_seconds": rec.cpu_seconds,
            "peak_rss_bytes": rec.peak_rss_bytes,
            "gpu_seconds": rec.gpu_seconds,
        },
    ]:
        hours = u["wall_seconds"] / 3600
        req_cpu = rec.request.get("cpu", 1.0)
        cpus = max(req_cpu, u["cpu_seconds"] / u["wall_seconds"]) if u["wall_seconds"] else req_cpu
        gb = max(rec.request.get("memory_mb", 0) / 1024, u["peak_rss_bytes"] / 1024**3)
        total += hours * (cpus * rates["vcpu_hour"] + gb * rates["gb_ram_hour"])
    return total
