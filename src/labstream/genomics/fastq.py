"""Streaming, validating FASTQ reader for single or paired files (gzip or plain).

Every defect the instrument or a transfer can introduce is an InputError naming the file and the record
(1-based record number and read name): truncated gzip, a record cut short, a header without '@', sequence
and quality of different lengths, bases outside IUPAC, empty files, and pair files whose read counts or
names disagree. Records come in batches so the QC that follows can work on numpy arrays.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labstream.core.errors import InputError

IUPAC = b"ACGTNRYSWKMBDHVacgtnryswkmbdhv"


@dataclass
class ReadBatch:
    """Parallel lists of one batch; `first` is the 1-based number of the first record in its file."""

    names: list[bytes]
    seqs: list[bytes]
    quals: list[bytes]
    first: int

    def __len__(self) -> int:
        return len(self.names)


def _open(path: Path) -> io.BufferedIOBase:
    if not path.exists():
        raise InputError(str(path), "FASTQ file does not exist")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _read_name(header: bytes) -> bytes:
    name = header[1:].split(None, 1)[0] if len(header) > 1 else b""
    if name.endswith((b"/1", b"/2")):
        name = name[:-2]
    return name


def iter_batches(path: str | Path, batch_size: int = 20000) -> Iterator[ReadBatch]:
    """Yield validated batches; raises InputError at the first bad record or a truncated file."""
    p = Path(path)
    fh = _open(p)
    n = 0
    try:
        while True:
            names: list[bytes] = []
            seqs: list[bytes] = []
            quals: list[bytes] = []
            first = n + 1
            readline = fh.readline
            for _ in range(batch_size):
                header = readline()
                if not header:
                    break
                n += 1
                seq = readline().rstrip(b"\r\n")
                plus = readline()
                qual = readline().rstrip(b"\r\n")
                if not header.startswith(b"@"):
                    raise InputError(
                        str(p),
                        f"header does not start with '@': {header[:40]!r}",
                        record=str(n),
                        hint="the file is not FASTQ or is corrupt",
                    )
                name = _read_name(header)
                if not plus.startswith(b"+") or (not qual and seq):
                    raise InputError(
                        str(p),
                        "record is cut short (missing '+' or quality line)",
                        record=f"{n} {name.decode(errors='replace')}",
                        hint="the file was truncated; re-transfer it",
                    )
                if len(seq) != len(qual):
                    raise InputError(
                        str(p),
                        f"sequence length {len(seq)} != quality length {len(qual)}",
                        record=f"{n} {name.decode(errors='replace')}",
                    )
                names.append(name)
                seqs.append(seq)
                quals.append(qual)
            if names:
                joined = b"".join(seqs)
                if joined.translate(None, IUPAC):
                    for i, s in enumerate(seqs):
                        bad = s.translate(None, IUPAC)
                        if bad:
                            raise InputError(
                                str(p),
                                f"non-IUPAC base {bad[:1]!r} in sequence",
                                record=f"{first + i} {names[i].decode(errors='replace')}",
                            )
                yield ReadBatch(names, seqs, quals, first)
            if len(names) < batch_size:
                break
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(
            str(p),
            f"gzip stream is truncated or corrupt after record {n} ({err})",
            record=str(n),
            hint="re-transfer the file; nothing from it was used",
        ) from err
    finally:
        fh.close()
    if n == 0:
        raise InputError(str(p), "FASTQ file is empty (no records)", hint="check the instrument output")


def iter_pairs(
    r1: str | Path, r2: str | Path | None, batch_size: int = 20000
) -> Iterator[tuple[ReadBatch, ReadBatch | None]]:
    """Batches of R1 with the matching batch of R2 (None for single-end); names must agree pair by pair."""
    it1 = iter_batches(r1, batch_size)
    if r2 is None:
        for b in it1:
            yield b, None
        return
    it2 = iter_batches(r2, batch_size)
    while True:
        b1 = next(it1, None)
        b2 = next(it2, None)
        if b1 is None and b2 is None:
            return
        if b1 is None or b2 is None or len(b1) != len(b2):
            c1 = (b1.first - 1 + len(b1)) if b1 else "fewer"
            c2 = (b2.first - 1 + len(b2)) if b2 else "fewer"
            raise InputError(
                f"{r1} / {r2}",
                f"pair files have different read counts (R1 {c1}, R2 {c2} at the point they diverge)",
                hint="the files are not mates or one is truncated",
            )
        if b1.names != b2.names:
            i = next(i for i, (a, b) in enumerate(zip(b1.names, b2.names, strict=True)) if a != b)
            raise InputError(
                f"{r1} / {r2}",
                f"read names differ: {b1.names[i].decode(errors='replace')!r} vs "
                f"{b2.names[i].decode(errors='replace')!r}",
                record=str(b1.first + i),
                hint="the files are not mates or are not in the same order",
            )
        yield b1, b2


__all__ = ["IUPAC", "ReadBatch", "iter_batches", "iter_pairs"]
