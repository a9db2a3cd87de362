"""Which instrument wrote a file and which entity (plate, sample) it belongs to, from its name.

Which layout describes a file is `labstream.layouts.detect`'s answer, the same parser the stages read
with; this module adds what only ingest needs: which files to leave alone (temporary, sidecar).
"""

from __future__ import annotations

from pathlib import Path

from labstream.layouts import FileIdentity, detect

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")
SIDECAR_SUFFIXES = (".meta.json", ".meta.csv")  # metadata written beside an instrument file, read with it

__all__ = ["FileIdentity", "detect", "is_sidecar", "is_temporary"]


def is_sidecar(path: Path) -> bool:
    """`<file>.meta.json|csv`: metadata of another file (it may name a patient), not data of its own."""
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def is_temporary(path: Path) -> bool:
    """Files an instrument is still writing: hidden names and common temporary suffixes."""
    return path.name.startswith((".", "~")) or path.name.lower().endswith(IGNORED_SUFFIXES)
