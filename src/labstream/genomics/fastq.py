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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labstream.core.errors import InputError

try:  # ISA-L inflates ~2.5x faster than zlib for the same bytes (it is on the critical path to the aligner)
    from isal import igzip as _gzip
    from isal.isal_zlib import error as _isal_error

    GZIP_ERRORS: tuple[type[BaseException], ...] = (EOFError, zlib.error, gzip.BadGzipFile, _isal_error)
except ImportError:  # pragma: no cover - isal is a dependency; plain zlib still works
    _gzip = gzip  # type: ignore[misc]
    GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)

IUPAC = b"ACGTNRYSWKMBDHVacgtnryswkmbdhv"
IUPAC_NL = IUPAC + b"\n"
PHRED = bytes(range(33, 127))  # the characters a Phred+33 quality may use
PHRED_NL = PHRED + b"\n"


@dataclass
class ReadBatch:
    """Parallel lists of one batch; `first` is the 1-based number of the first record in its file.

    The reader also hands over what it built to validate the batch (the sequences and qualities joined
    by newlines, the read lengths), so QC works on whole-batch buffers without joining them again.
    """

    names: list[bytes]
    seqs: list[bytes]
    quals: list[bytes]
    first: int
    _seq_text: bytes | None = field(default=None, repr=False, compare=False)
    _qual_text: bytes | None = field(default=None, repr=False, compare=False)
    _lengths: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.names)

    def seq_text(self) -> bytes:
        """The sequences joined by b"\\n" (record i starts at `starts()[i]`)."""
        if self._seq_text is None:
            self._seq_text = b"\n".join(self.seqs)
        return self._seq_text

    def qual_text(self) -> bytes:
        """The qualities joined by b"\\n", laid out like `seq_text()`."""
        if self._qual_text is None:
            self._qual_text = b"\n".join(self.quals)
        return self._qual_text

    def lengths(self) -> np.ndarray:
        if self._lengths is None:
            self._lengths = np.fromiter(map(len, self.seqs), dtype=np.int64, count=len(self.seqs))
        return self._lengths

    def starts(self) -> np.ndarray:
        """Offset of each record in `seq_text()` / `qual_text()`."""
        lens = self.lengths()
        out = np.zeros(len(lens), dtype=np.int64)
        if len(lens) > 1:
            np.cumsum(lens[:-1] + 1, out=out[1:])
        return out


def _open(path: Path) -> io.BufferedIOBase:
    if not path.exists():
        raise InputError(str(path), "FASTQ file does not exist")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return _gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


BLOCK = 1 << 18  # bytes read per call: line splitting in C, not one Python call per line


def _lines(
    fh: io.BufferedIOBase, want: int, pending: list[bytes], tail: bytes
) -> tuple[list[bytes], bytes, bool]:
    """Top `pending` up to `want` complete lines; returns (pending, partial last line, eof)."""
    while len(pending) < want:
        block = fh.read(BLOCK)
        if not block:
            if tail:
                pending.append(tail)
            return pending, b"", True
        parts = (tail + block).split(b"\n")
        tail = parts.pop()
        pending.extend(parts)
    return pending, tail, False


def _check(
    p: Path,
    first: int,
    names: list[bytes],
    seqs: list[bytes],
    pluses: list[bytes],
    quals: list[bytes],
    headers: list[bytes],
    head_text: bytes,
) -> tuple[bytes, bytes, np.ndarray]:
    """Validate one batch; returns (sequences joined by newlines, qualities likewise, read lengths).

    The common, valid case is checked on whole-batch buffers (one C call per check); only a failing
    check walks the records to name the first bad one.
    """

    def rec(i: int) -> str:
        return f"{first + i} {names[i].decode(errors='replace')}" if i < len(names) else str(first + i)

    n = len(headers)
    if head_text[:1] != b"@" or head_text.count(b"\n@") != n - 1:
        i = next(i for i, h in enumerate(headers) if h[:1] != b"@")
        raise InputError(
            str(p),
            f"header does not start with '@': {headers[i][:40]!r}",
            record=str(first + i),
            hint="the file is not FASTQ, is corrupt or was truncated",
        )
    plus_text = b"\n".join(pluses)
    if len(quals) < n or plus_text[:1] != b"+" or plus_text.count(b"\n+") != len(pluses) - 1:
        i = next((i for i, x in enumerate(pluses) if x[:1] != b"+"), len(pluses))
        raise InputError(
            str(p),
            "record is cut short (missing '+' or quality line)",
            record=rec(i),
            hint="the file was truncated; re-transfer it",
        )
    seq_lens = list(map(len, seqs))
    if seq_lens != list(map(len, quals)):
        i = next(i for i, (a, b) in enumerate(zip(seqs, quals, strict=True)) if len(a) != len(b))
        raise InputError(
            str(p), f"sequence length {len(seqs[i])} != quality length {len(quals[i])}", record=rec(i)
        )
    seq_text = b"\n".join(seqs)
    if seq_text.translate(None, IUPAC_NL):
        i = next(i for i, x in enumerate(seqs) if x.translate(None, IUPAC))
        bad = seqs[i].translate(None, IUPAC)
        raise InputError(str(p), f"non-IUPAC base {bad[:1]!r} in sequence", record=rec(i))
    qual_text = b"\n".join(quals)
    if qual_text.translate(None, PHRED_NL):  # Phred+33: '!' (Q0) to '~' (Q93); one C call per batch
        i = next(i for i, x in enumerate(quals) if x.translate(None, PHRED))
        bad = quals[i].translate(None, PHRED)
        raise InputError(
            str(p),
            f"quality character {bad[:1]!r} is outside Phred+33 ('!' to '~')",
            record=rec(i),
            hint="the file is corrupt or uses another quality encoding; convert it to Phred+33",
        )
    return seq_text, qual_text, np.array(seq_lens, dtype=np.int64)


def _names(headers: list[bytes], text: bytes) -> list[bytes]:
    """Read names: the header up to the first whitespace, without '@' (one split when there is none).

    `text` is the headers joined by newlines."""
    if b" " not in text and b"\t" not in text:
        return text[1:].split(b"\n@") if headers else []
    return [h.split(maxsplit=1)[0][1:] if h.strip() else b"" for h in headers]


def iter_batches(path: str | Path, batch_size: int = 20000) -> Iterator[ReadBatch]:
    """Yield validated batches of exactly `batch_size` records (the last may be shorter).

    Raises InputError at the first bad record or a truncated file.
    """
    p = Path(path)
    fh = _open(p)
    n = 0
    pending: list[bytes] = []
    tail = b""
    eof = False
    try:
        while True:
            pending, tail, eof = _lines(fh, 4 * batch_size, pending, tail)
            if eof:
                while pending and not pending[-1].strip():  # trailing blank lines
                    pending.pop()
            take = min(len(pending), 4 * batch_size)
            lines, pending = pending[:take], pending[take:]
            if not lines:
                break
            if any(x[-1:] == b"\r" for x in lines[:4]):
                lines = [x.rstrip(b"\r") for x in lines]
            headers, seqs, pluses, quals = lines[0::4], lines[1::4], lines[2::4], lines[3::4]
            head_text = b"\n".join(headers)
            names = _names(headers, head_text)
            if any(x[-2:] in (b"/1", b"/2") for x in names[:1]):
                names = [x[:-2] if x[-2:] in (b"/1", b"/2") else x for x in names]
            seq_text, qual_text, lens = _check(p, n + 1, names, seqs, pluses, quals, headers, head_text)
            yield ReadBatch(names, seqs, quals, n + 1, seq_text, qual_text, lens)
            n += len(names)
            if eof and not pending:
                break
    except GZIP_ERRORS as err:
        n += len(pending) // 4  # complete records decoded before the damage
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


__all__ = ["IUPAC", "IUPAC_NL", "ReadBatch", "iter_batches", "iter_pairs"]
