"""Any other FASTQ: `{sample}[_chunk{n}|_part{n}][_R1|_R2|_1|_2].fastq[.gz]`. Enough to route a file to
its sample; the read number is 0 when the name does not carry one (a single-end or interleaved file) and
the chunk 0 when it has none."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.layouts.base import RegexLayout


class Fastq(RegexLayout):
    name = "fastq"
    instrument = "sequencer"
    pattern = "{sample}[_chunk{n}][_R1|_R2].fastq.gz"
    regex = re.compile(
        r"^(?P<sample>.+?)(?:[._-](?:chunk|part|c)?(?P<chunk>\d+)(?:of\d+)?)?(?:[._-]R?(?P<read>[12]))?"
        r"\.f(?:ast)?q(?:\.gz)?$",
        re.I,
    )

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        return {"sample": m["sample"], "chunk": int(m["chunk"] or 0), "read": int(m["read"] or 0)}
