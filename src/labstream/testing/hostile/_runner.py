"""Run the corpus: each case in its own temporary folder, its verdicts judged from what happened."""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from labstream.testing.hostile._case import Case, Result, crashed, judge

FAMILIES = ("images", "fastq", "references", "platemaps", "names", "events", "api", "cli", "databases")


def all_cases(families: Iterable[str] | None = None) -> list[Case]:
    chosen = list(families) if families else list(FAMILIES)
    unknown = sorted(set(chosen) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}; use {FAMILIES}")
    cases: list[Case] = []
    for fam in chosen:
        cases += importlib.import_module(f"labstream.testing.hostile.{fam}").CASES
    ids = [c.id for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"case ids used twice: {dup}")
    return cases


def run_case(case: Case) -> Result:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"hostile-{case.id}-") as d:
        try:
            observed = case.run(case.build(Path(d)))
        except (Exception, SystemExit):
            return crashed(case, time.monotonic() - started)
        return judge(case, observed, time.monotonic() - started)


@dataclass
class Totals:
    cases: int
    passed: int
    clear: int
    security_failures: int
    silent_losses: int
    duplicates: int
    known_failing: int
    unexpected: list[str]  # failing without known_failing, or passing with it
    seconds: float

    @property
    def clear_percent(self) -> float:
        return 100.0 * self.clear / self.cases if self.cases else 100.0


def totals(results: list[Result], seconds: float) -> Totals:
    unexpected = [r.case.id for r in results if r.passed == bool(r.case.known_failing)]
    return Totals(
        cases=len(results),
        passed=sum(r.passed for r in results),
        clear=sum(r.clear for r in results),
        security_failures=sum(not r.secure for r in results),
        silent_losses=sum(r.silent_loss for r in results),
        duplicates=sum(not r.unique for r in results),
        known_failing=sum(bool(r.case.known_failing) for r in results),
        unexpected=unexpected,
        seconds=seconds,
    )


def run_corpus(
    cases: list[Case], on_result: Callable[[Result], None] | None = None
) -> tuple[list[Result], Totals]:
    # warnings stay on: a warning is part of what a user is told (a stale index rebuilt, for one)
    started = time.monotonic()
    results = []
    for case in cases:
        r = run_case(case)
        results.append(r)
        if on_result is not None:
            on_result(r)
    return results, totals(results, time.monotonic() - started)
