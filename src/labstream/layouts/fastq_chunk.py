"""Sequencer chunks: `{sample}.c{chunk}of{total}.R{read}.fastq[.gz]`, as labstream's sequencer simulator
(or a run plan) writes them, chunks numbered from 0 (the simulator) or 1. The name carries the run's
chunk count, which is how the streaming call stage knows a sample is complete."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import RegexLayout


class FastqChunk(RegexLayout):
    name = "fastq-chunk"
    instrument = "sequencer"
    pattern = "{sample}.c{chunk:04d}of{total:04d}.R{read}.fastq.gz"
    regex = re.compile(
        r"^(?P<sample>.+)\.c(?P<chunk>\d{4,})of(?P<total>\d{4,})\.R(?P<read>[12])\.f(?:ast)?q(?:\.gz)?$"
    )

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        chunk, total = int(m["chunk"]), int(m["total"])
        if total < 1 or chunk > total:
            raise InputError(
                str(path), f"chunk {chunk} of {total} is out of range: a run has at least one chunk"
            )
        return {"sample": m["sample"], "chunk": chunk, "total": total, "read": int(m["read"])}
