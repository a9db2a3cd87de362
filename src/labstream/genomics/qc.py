"""Read QC and trimming, one streaming pass in numpy, fed straight into the aligner.

Why not fastp: we must parse every record anyway to validate it (errors that name the record), and doing
the metrics and trimming on the same numpy batches costs little and runs concurrently with minimap2 (the
trimmed reads are written to its stdin); fastp would be one more full read and write of every chunk
before alignment could start. What we do is what fastp does by default for Illumina reads:

- 3' quality trimming with the BWA/cutadapt running-sum algorithm (threshold `min_quality`);
- adapter trimming: the Illumina TruSeq adapter anywhere in the read, or a prefix of it (>= 5 bases) at
  the 3' end; pairs where either mate falls under `min_length` are dropped (and counted).

Metrics (`QCStats`, mergeable across chunks): reads, bases, Q30 fraction, GC fraction, N fraction, mean
read length, duplicate fraction (exact duplicate pairs), adapter-trimmed and quality-trimmed reads.
Insert size comes from the alignment (bam.py), where it is measured rather than guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from labstream.genomics.fastq import ReadBatch

ADAPTER = b"AGATCGGAAGAGC"  # Illumina TruSeq / Nextera common prefix
DUP_SAMPLE = 1_000_000  # pairs per QCStats used for the duplication estimate


@dataclass
class QCStats:
    reads: int = 0
    bases: int = 0
    q30_bases: int = 0
    gc_bases: int = 0
    n_bases: int = 0
    pairs_dropped: int = 0
    adapter_trimmed: int = 0
    quality_trimmed: int = 0
    bases_out: int = 0
    _dup_digests: set[int] = field(default_factory=set, repr=False)
    _dup_seen: int = 0

    def merge(self, other: QCStats) -> QCStats:
        out = QCStats(**{k: getattr(self, k) + getattr(other, k) for k in self.counter_fields()})
        out._dup_digests = self._dup_digests | other._dup_digests
        out._dup_seen = self._dup_seen + other._dup_seen
        return out

    @staticmethod
    def counter_fields() -> list[str]:
        """The public counters, in declaration order (the `_dup_*` state is merged on its own)."""
        return [f.name for f in fields(QCStats) if not f.name.startswith("_")]

    def summary(self) -> dict[str, float]:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        b = max(self.bases, 1)
        d["q30_fraction"] = self.q30_bases / b
        d["gc_fraction"] = self.gc_bases / max(self.bases - self.n_bases, 1)
        d["n_fraction"] = self.n_bases / b
        d["mean_length"] = self.bases / max(self.reads, 1)
        d["duplication_fraction"] = 1.0 - len(self._dup_digests) / max(self._dup_seen, 1)
        return d


def quality_trim_lengths(quals: list[bytes], min_quality: int = 20, offset: int = 33) -> np.ndarray:
    """Length to keep for each read: cutadapt's 3' running-sum algorithm, vectorised over the batch."""
    lens = np.fromiter(map(len, quals), dtype=np.int64, count=len(quals))
    return _quality_trim(b"\n".join(quals), lens, _starts(lens), min_quality, offset)


def _starts(lens: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lens), dtype=np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1] + 1, out=out[1:])
    return out


def _quality_trim(
    text: bytes, lens: np.ndarray, starts: np.ndarray, min_quality: int, offset: int
) -> np.ndarray:
    """`quality_trim_lengths` on newline-joined qualities (`starts`: each record's offset in `text`).

    Only reads whose last base is at or under `min_quality` can be trimmed (otherwise the running sum
    starts negative and the algorithm stops at once), so the matrix is built for those alone.
    """
    out = lens.copy()
    if not len(lens):
        return out
    buf = np.frombuffer(text, dtype=np.uint8)
    has = lens > 0
    last = np.full(len(lens), 255, dtype=np.int64)
    last[has] = buf[(starts + lens - 1)[has]]
    cand = np.flatnonzero(has & (last - offset <= min_quality))
    if not cand.size:
        return out
    c_lens = lens[cand]
    width = int(c_lens.max())
    # right-aligned so 3' ends share a column, read from the 3' end; padding never triggers a trim
    back = np.arange(width)[None, :]
    idx = (starts[cand] + c_lens - 1)[:, None] - back
    inside = back < c_lens[:, None]
    quals = np.where(inside, buf[np.where(inside, idx, 0)].astype(np.int32) - offset, 60)
    csum = np.cumsum(min_quality - quals, axis=1)
    neg = csum < 0
    stop = np.where(neg.any(axis=1), neg.argmax(axis=1), width)
    masked = np.where(back < stop[:, None], csum, -1)
    best = masked.argmax(axis=1)
    cut = np.where(masked[np.arange(len(cand)), best] > 0, best + 1, 0)
    out[cand] = np.maximum(c_lens - cut, 0)
    return out


def adapter_trim_lengths(seqs: list[bytes], adapter: bytes = ADAPTER, min_overlap: int = 5) -> np.ndarray:
    """Length to keep for each read: cut at the adapter, or at a 3' partial adapter of >= min_overlap."""
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    return _adapter_trim(b"\n".join(seqs), lens, _starts(lens), adapter, min_overlap)


def _adapter_trim(
    text: bytes, lens: np.ndarray, starts: np.ndarray, adapter: bytes = ADAPTER, min_overlap: int = 5
) -> np.ndarray:
    """`adapter_trim_lengths` on newline-joined sequences: one `find` scan of the whole batch for whole
    adapters, and one gather of each read's 3' end per partial length (longest first)."""
    n = len(lens)
    out = lens.copy()
    if n == 0:
        return out
    whole = np.zeros(n, dtype=bool)
    j = text.find(adapter)
    while j >= 0:  # occurrences are rare: this loop runs once per adapter-bearing read, not per read
        i = int(np.searchsorted(starts, j, side="right")) - 1
        if not whole[i]:
            whole[i] = True
            out[i] = j - starts[i]
        j = text.find(adapter, j + 1)
    buf = np.frombuffer(text, dtype=np.uint8)
    ends = starts + lens
    todo = ~whole
    for k in range(len(adapter) - 1, min_overlap - 1, -1):
        rows = np.flatnonzero(todo & (lens >= k))
        if not rows.size:
            continue
        tails = buf[ends[rows, None] - k + np.arange(k)[None, :]]
        hit = rows[(tails == np.frombuffer(adapter[:k], dtype=np.uint8)[None, :]).all(axis=1)]
        out[hit] = lens[hit] - k
        todo[hit] = False
    return out


_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)


def _batch_metrics(stats: QCStats, b: ReadBatch) -> None:
    lower = np.frombuffer(b.seq_text(), dtype=np.uint8) | np.uint8(0x20)  # case-folded; b"\n" is no base
    stats.reads += len(b)
    stats.bases += int(b.lengths().sum())
    stats.q30_bases += int(np.count_nonzero(np.frombuffer(b.qual_text(), dtype=np.uint8) >= 33 + 30))
    stats.gc_bases += int(np.count_nonzero(lower == ord("g")) + np.count_nonzero(lower == ord("c")))
    stats.n_bases += int(np.count_nonzero(lower == ord("n")))


def _read_hashes(b: ReadBatch, rows: int) -> np.ndarray:
    """A 64-bit hash of each of the first `rows` sequences, vectorised over the batch.

    Each read, zero-padded to 8-byte words, hashes to sum(word_j * odd_j) + length (mod 2^64) and then a
    murmur-style finaliser. The same function in every batch and process (unlike Python's salted `hash`),
    so digests from chunks QC'd anywhere merge into one duplication estimate.
    """
    lens = b.lengths()[:rows]
    text = b.seq_text()
    width = -(-int(lens.max(initial=0)) // 8) * 8 or 8
    mat = np.zeros((rows, width), dtype=np.uint8)
    buf = np.frombuffer(text, dtype=np.uint8)
    if rows and (lens == lens[0]).all() and len(text) >= rows * (int(lens[0]) + 1) - 1:
        length = int(lens[0])  # equal lengths: the joined text is a matrix with a newline column
        mat[:, :length] = np.frombuffer(text[: rows * (length + 1) - 1] + b"\n", dtype=np.uint8).reshape(
            rows, length + 1
        )[:, :length]
    elif rows:
        col = np.arange(width)[None, :]
        inside = col < lens[:, None]
        mat[inside] = buf[(b.starts()[:rows, None] + col)[inside]]
    words = mat.view(np.uint64)
    odd = (np.arange(words.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)) * _HASH_MIX
    with np.errstate(over="ignore"):
        h = (words * odd[None, :]).sum(axis=1, dtype=np.uint64) + lens.astype(np.uint64)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
    return h


def qc_and_trim(
    b1: ReadBatch, b2: ReadBatch | None, stats: QCStats, *, min_quality: int = 20, min_length: int = 30
) -> bytes:
    """Update `stats` with this batch and return trimmed reads as FASTQ bytes (pairs interleaved).

    Per-record Python work is limited to slicing the reads that are trimmed; metrics, trim lengths and
    duplicate digests are computed on whole-batch buffers, and the output is assembled by list slicing.
    """
    mates = [b1] if b2 is None else [b1, b2]
    keep_lens = []
    for b in mates:
        _batch_metrics(stats, b)
        lens, starts = b.lengths(), b.starts()
        q = _quality_trim(b.qual_text(), lens, starts, min_quality, 33)
        a = _adapter_trim(b.seq_text(), lens, starts)
        stats.adapter_trimmed += int(np.count_nonzero(a < lens))
        stats.quality_trimmed += int(np.count_nonzero(q < lens))
        keep_lens.append(np.minimum(q, a))
    ok = np.logical_and.reduce([k >= min_length for k in keep_lens])
    n_ok = int(np.count_nonzero(ok))
    stats.pairs_dropped += len(b1) - n_ok
    # duplicates: exact same sequence pair (what fastp's duplication estimate approximates)
    rows = min(max(0, DUP_SAMPLE - stats._dup_seen), len(b1))  # bounded sample keeps memory flat
    if rows:
        h = _read_hashes(b1, rows)
        if b2 is not None:
            with np.errstate(over="ignore"):
                h = h * _HASH_MIX ^ _read_hashes(b2, rows)
        stats._dup_digests.update(h.tolist())
        stats._dup_seen += rows
    stats.bases_out += int(sum(int(k[ok].sum()) for k in keep_lens))
    if n_ok == 0:
        return b""
    keep = None if n_ok == len(b1) else np.flatnonzero(ok).tolist()
    heads = [b"@" + x for x in (b1.names if keep is None else [b1.names[i] for i in keep])]
    step = 4 * len(mates)
    lines: list[bytes] = [b""] * (step * n_ok)
    for m, (b, k) in enumerate(zip(mates, keep_lens, strict=True)):
        seqs, quals = list(b.seqs), list(b.quals)
        for i in np.flatnonzero(k < b.lengths()).tolist():  # only trimmed reads are sliced
            seqs[i] = seqs[i][: k[i]]
            quals[i] = quals[i][: k[i]]
        if keep is not None:
            seqs, quals = [seqs[i] for i in keep], [quals[i] for i in keep]
        mate_heads = heads if m == 0 or b.names is b1.names or b.names == b1.names else None
        if mate_heads is None:
            names = b.names if keep is None else [b.names[i] for i in keep]
            mate_heads = [b"@" + x for x in names]
        lines[4 * m :: step] = mate_heads
        lines[4 * m + 1 :: step] = seqs
        lines[4 * m + 2 :: step] = [b"+"] * n_ok
        lines[4 * m + 3 :: step] = quals
    return b"\n".join(lines) + b"\n"


__all__ = ["ADAPTER", "QCStats", "adapter_trim_lengths", "qc_and_trim", "quality_trim_lengths"]
