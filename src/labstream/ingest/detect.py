"""Which instrument wrote a file and which entity (plate, sample) it belongs to, from its name.

Which layout describes a file is `labstream.layouts.detect`'s answer, the same parser the stages read
with; this module adds what only ingest needs: which files to leave alone (temporary, sidecar).
"""

from __future__ import annotations

import os
from pathlib import Path

from labstream.layouts import FileIdentity, detect

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".lock")
SIDECAR_SUFFIXES = (".meta.json", ".meta.csv")  # metadata written beside an instrument file, read with it

__all__ = ["FileIdentity", "detect", "is_sidecar", "is_temporary", "run_listing"]


def is_sidecar(path: Path) -> bool:
    """`<file>.meta.json|csv`: metadata of another file (it may name a patient), not data of its own."""
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def is_temporary(path: Path) -> bool:
    """Files an instrument is still writing: hidden names and common temporary suffixes."""
    return path.name.startswith((".", "~")) or path.name.lower().endswith(IGNORED_SUFFIXES)


def run_listing(root: Path, folder: Path) -> list[str]:
    """Identities (paths under `root`) of the regular files under `folder`, walked without following
    links and without temporary files: what a run-complete marker says the run holds. Why at ingest: the
    marker lands last, and only the watcher sees the folder; the stages see events, never server paths."""
    out: list[str] = []
    for dirpath, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            p = Path(dirpath) / name
            if not is_temporary(p) and not is_sidecar(p) and p.is_file() and not p.is_symlink():
                out.append(p.relative_to(root).as_posix())
    return sorted(out)
