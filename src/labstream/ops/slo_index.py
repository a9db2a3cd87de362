"""One SLO's events kept sorted, so a scrape counts them (and their burn per window) by bisection.

`slo.outcomes` + `slo.burn_rate` look at every entity of the history on each call; a scrape every
15-60 s would pay that forever. `SloIndex` keeps the entities that reached the end milestone sorted
by (end, start), their bad ends apart, and the still-open ones by start; every condition of
`outcomes` / `burn_rate` (`end <= now`, `now - start > target`, `now - window < at <= now`) is
monotone along those orders, so each is one binary search with the very same float expression:
the counts equal the ones those functions give (tests/ops/test_ops_metrics_incremental.py).
An entity that ends after `now` (a clock ahead of the scraper's) counts as open, as in `outcomes`.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable, Sequence
from typing import Any

from labstream.ops.slo import SLO

__all__ = ["SloIndex"]


def _first(seq: Sequence[Any], pred: Callable[[Any], bool], lo: int, hi: int) -> int:
    """The first index in [lo, hi) where `pred` holds (it must be False, then True, along seq)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(seq[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _drop(seq: list[Any], item: Any) -> None:
    i = _first(seq, lambda x: x >= item, 0, len(seq))
    if i < len(seq) and seq[i] == item:
        del seq[i]


class SloIndex:
    """The events of one SLO among a set of entities, added and taken out one entity at a time."""

    def __init__(self, slo: SLO) -> None:
        self.slo = slo
        self.closed: list[tuple[float, float]] = []  # (end, start)
        self.bad: list[float] = []  # ends of closed entities that took longer than the target
        self.open: list[float] = []  # starts of entities without an end yet

    def add(self, start: float, end: float | None, sign: int) -> None:
        """Add (sign 1) or take out (-1) one entity's clock."""
        change = insort if sign > 0 else _drop
        if end is None:
            change(self.open, start)
            return
        change(self.closed, (end, start))
        if end - start > self.slo.target_s:
            change(self.bad, end)

    def __len__(self) -> int:
        return len(self.closed) + len(self.open)

    def events(self, now: float) -> tuple[int, int, list[float]]:
        """(events, bad events, the breach times of the open ones that count) as of `now`."""
        target = self.slo.target_s
        k = bisect_right(self.closed, (now, float("inf")))  # ended by now
        breached = _first(self.open, lambda s: not now - s > target, 0, len(self.open))
        late = [s + target for _, s in self.closed[k:] if now - s > target]  # ends after now: open
        bad = bisect_right(self.bad, now) + breached + len(late)
        return k + breached + len(late), bad, late

    def window(self, now: float, window_s: float) -> tuple[int, int]:
        """(events, bad events) that counted in (now - window, now], as `slo.burn_rate` selects them."""
        target = self.slo.target_s
        _, _, late = self.events(now)
        k = bisect_right(self.closed, (now, float("inf")))
        inside = k - _first(self.closed, lambda c: now - window_s < c[0], 0, k)
        kb = bisect_right(self.bad, now)
        bad = kb - _first(self.bad, lambda e: now - window_s < e, 0, kb)
        breached = _first(self.open, lambda s: not now - s > target, 0, len(self.open))
        lo = _first(self.open, lambda s: now - window_s < s + target, 0, breached)
        hi = _first(self.open, lambda s: not s + target <= now, lo, breached)
        n_open = max(0, hi - lo) + sum(now - window_s < at <= now for at in late)
        return inside + n_open, bad + n_open
