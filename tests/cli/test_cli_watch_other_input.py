"""A folder of another instrument's files watched by the wrong pipeline is not silent: the note names the
files, their layout and the pipeline that streams it (a FASTQ chunk under phenomics -> genomics)."""

from __future__ import annotations

from labstream.cli.watch import not_this_pipelines_input
from labstream.core.events import Event
from labstream.ingest.files import IngestResult
from labstream.ingest.watch_stats import LayoutSeen, WatchStats
from labstream.layouts import detect


def _ingested(*names: str) -> dict[str, LayoutSeen]:
    """The watch's per-layout tally after ingesting these files."""
    stats = WatchStats()
    for name in names:
        found = detect(name)
        data = {"name": name, "layout": found.layout, "instrument": found.instrument}
        stats.record(
            IngestResult(f"/lab/in/{name}", "published", event=Event("file.landed", found.key, data))
        )
    return stats.layouts


def test_sequencer_chunks_under_phenomics_point_to_genomics() -> None:
    results = _ingested(
        "S1.c0001of0004.R1.fastq.gz", "S1.c0001of0004.R2.fastq.gz", "plate1_A01_s1_w1.tif", "notes.txt"
    )
    note = not_this_pipelines_input("phenomics", results)
    assert note is not None and "2 file(s) of layout fastq-chunk" in note
    assert "S1.c0001of0004.R1.fastq.gz" in note and "--pipeline genomics" in note
    assert "plate1_A01" not in note and "notes.txt" not in note  # its own input and unknown files


def test_no_note_for_own_input_or_a_pipeline_of_every_file() -> None:
    assert not_this_pipelines_input("genomics", _ingested("S1.c0001of0004.R1.fastq.gz")) is None
    assert not_this_pipelines_input("filestats", _ingested("S1.c0001of0004.R1.fastq.gz")) is None


def test_a_layout_no_pipeline_streams_says_so() -> None:
    note = not_this_pipelines_input("phenomics", _ingested(*(f"S{i}_R1.fastq.gz" for i in range(5))))
    assert note is not None and "5 file(s) of layout fastq" in note and "and 2 more" in note
    assert "no pipeline streams this layout" in note
