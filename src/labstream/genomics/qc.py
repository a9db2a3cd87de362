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

import hashlib
from dataclasses import asdict, dataclass, field

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
    _dup_digests: set[bytes] = field(default_factory=set, repr=False)
    _dup_seen: int = 0

    def merge(self, other: QCStats) -> QCStats:
        out = QCStats(**{k: getattr(self, k) + getattr(other, k) for k in self.counter_fields()})
        out._dup_digests = self._dup_digests | other._dup_digests
        out._dup_seen = self._dup_seen + other._dup_seen
        return out

    @staticmethod
    def counter_fields() -> list[str]:
        return [
            "reads",
            "bases",
            "q30_bases",
            "gc_bases",
            "n_bases",
            "pairs_dropped",
            "adapter_trimmed",
            "quality_trimmed",
            "bases_out",
        ]

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
    """Length to keep for each read: cutadapt's 3' running-sum algorithm, vectorised over the batch.

    Only reads whose last base is at or under `min_quality` can be trimmed (otherwise the running sum
    starts negative and the algorithm stops at once), so the matrix is built for those alone.
    """
    n = len(quals)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lens = np.fromiter((len(q) for q in quals), dtype=np.int64, count=n)
    last = np.fromiter((q[-1] if q else 255 for q in quals), dtype=np.int64, count=n) - offset
    cand = np.flatnonzero(last <= min_quality)
    out = lens.copy()
    if cand.size:
        out[cand] = _running_sum_trim([quals[i] for i in cand.tolist()], lens[cand], min_quality, offset)
    return out


def _running_sum_trim(quals: list[bytes], lens: np.ndarray, min_quality: int, offset: int) -> np.ndarray:
    n = len(quals)
    width = int(lens.max())
    if width == 0:
        return lens
    # right-align so 3' ends share a column; padding gets a high quality that never triggers a trim
    mat = np.full((n, width), 60, dtype=np.int16)
    if (lens == width).all():
        mat[:] = np.frombuffer(b"".join(quals), dtype=np.uint8).reshape(n, width) - offset
    else:
        for i, q in enumerate(quals):
            if q:
                mat[i, width - len(q) :] = np.frombuffer(q, dtype=np.uint8) - offset
    score = (min_quality - mat)[:, ::-1].astype(np.int32)  # from the 3' end
    csum = np.cumsum(score, axis=1)
    neg = csum < 0
    stop = np.where(neg.any(axis=1), neg.argmax(axis=1), width)
    valid = np.arange(width)[None, :] < stop[:, None]
    masked = np.where(valid, csum, -1)
    best = masked.argmax(axis=1)
    cut = np.where(masked[np.arange(n), best] > 0, best + 1, 0)
    return np.maximum(lens - cut, 0)


def adapter_trim_lengths(seqs: list[bytes], adapter: bytes = ADAPTER, min_overlap: int = 5) -> np.ndarray:
    """Length to keep for each read: cut at the adapter, or at a 3' partial adapter of >= min_overlap.

    Vectorised over the batch: one `find` scan of the joined sequences for whole adapters, and one
    gather of each read's 3' end per partial length (longest first) for the partial ones.
    """
    n = len(seqs)
    lens = np.fromiter((len(x) for x in seqs), dtype=np.int64, count=n)
    if n == 0:
        return lens
    out = lens.copy()
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1] + 1, out=starts[1:])
    joined = b"\n".join(seqs)
    whole = np.zeros(n, dtype=bool)
    j = joined.find(adapter)
    while j >= 0:  # occurrences are rare: this loop runs once per adapter-bearing read, not per read
        i = int(np.searchsorted(starts, j, side="right")) - 1
        if not whole[i]:
            whole[i] = True
            out[i] = j - starts[i]
        j = joined.find(adapter, j + 1)
    buf = np.frombuffer(joined, dtype=np.uint8)
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


def _batch_metrics(stats: QCStats, b: ReadBatch) -> None:
    seq = b"".join(b.seqs)
    qual = np.frombuffer(b"".join(b.quals), dtype=np.uint8)
    stats.reads += len(b)
    stats.bases += len(seq)
    stats.q30_bases += int(np.count_nonzero(qual >= 33 + 30))
    up = seq.upper()
    stats.gc_bases += up.count(b"G") + up.count(b"C")
    stats.n_bases += up.count(b"N")


def qc_and_trim(
    b1: ReadBatch, b2: ReadBatch | None, stats: QCStats, *, min_quality: int = 20, min_length: int = 30
) -> bytes:
    """Update `stats` with this batch and return trimmed reads as FASTQ bytes (pairs interleaved)."""
    mates = [b1] if b2 is None else [b1, b2]
    keep_lens = []
    for b in mates:
        _batch_metrics(stats, b)
        q = quality_trim_lengths(b.quals, min_quality)
        a = adapter_trim_lengths(b.seqs)
        lens = np.fromiter((len(s) for s in b.seqs), dtype=np.int64, count=len(b))
        stats.adapter_trimmed += int(np.count_nonzero(a < lens))
        stats.quality_trimmed += int(np.count_nonzero(q < lens))
        keep_lens.append(np.minimum(q, a))
    ok = np.logical_and.reduce([k >= min_length for k in keep_lens])
    stats.pairs_dropped += int(len(b1) - np.count_nonzero(ok))
    # duplicates: exact same sequence pair (what fastp's duplication estimate approximates)
    room = max(0, DUP_SAMPLE - stats._dup_seen)  # a bounded sample keeps memory flat, as fastp does
    for i in range(min(room, len(b1))):
        key = b1.seqs[i] + (b"|" + b2.seqs[i] if b2 is not None else b"")
        stats._dup_digests.add(hashlib.blake2b(key, digest_size=8).digest())
    stats._dup_seen += min(room, len(b1))
    keep = np.flatnonzero(ok).tolist()
    stats.bases_out += int(sum(int(k[ok].sum()) for k in keep_lens))
    parts: list[bytes] = []
    add = parts.extend
    lists = [(b.names, b.seqs, b.quals, k.tolist()) for b, k in zip(mates, keep_lens, strict=True)]
    for i in keep:
        for names, seqs, quals, kl in lists:
            k = kl[i]
            add((b"@" + names[i], seqs[i][:k], b"+", quals[i][:k]))  # a full slice is the same object
    return b"\n".join(parts) + b"\n" if parts else b""


__all__ = ["ADAPTER", "QCStats", "adapter_trim_lengths", "qc_and_trim", "quality_trim_lengths"]
