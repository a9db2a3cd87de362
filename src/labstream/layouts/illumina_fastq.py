"""Illumina FASTQ as bcl-convert / bcl2fastq name it: `{sample}_S{n}_L{lane}_{R1|R2|I1|I2}_001.fastq.gz`
(`_L{lane}` is absent when lanes are merged). Index reads (I1/I2) are identified too, so a run folder's
index files are recognised and can be left out of alignment rather than mistaken for a sample."""

from __future__ import annotations

import re
from pathlib import Path

from labstream.layouts.base import RegexLayout


class IlluminaFastq(RegexLayout):
    name = "illumina-fastq"
    instrument = "sequencer"
    pattern = "{sample}_S{n}_L{lane:03d}_R{1|2}_001.fastq.gz"
    regex = re.compile(
        r"^(?P<sample>.+)_S(?P<number>\d+)(?:_L(?P<lane>\d{3}))?_(?P<kind>[RI])(?P<read>[1-4])_(?P<segment>\d{3})"
        r"\.f(?:ast)?q(?:\.gz)?$"
    )

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        return {
            "sample": m["sample"],
            "sample_number": int(m["number"]),
            "lane": int(m["lane"] or 0),
            "read": int(m["read"]) if m["kind"] == "R" else 0,
            "index_read": int(m["read"]) if m["kind"] == "I" else 0,
            "segment": int(m["segment"]),
        }
