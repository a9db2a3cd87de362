"""`/metrics` folds in only the lineage written since the previous scrape, and reports exactly what the
collector that re-read the whole lineage on every scrape reported (tests/ops/_metrics_reference.py, the
code of main before session 9), series for series, for every caller's scope: across several projects,
stages of two pipelines and of none, ok/failed/quarantined/running tasks, retries, a failed task
rewritten as ok (a replay), a running task that finishes, the latest ok task rewritten as failed, tasks
of last month and one stamped after the scrape's clock, entities in time, late and still open, and
quarantined inputs with and without a stage."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
from _metrics_reference import PlatformCollector as Reference
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from labstream.catalog import LineageRecord, lineage_store, open_catalog
from labstream.core.settings import Settings
from labstream.ops.metrics import PlatformCollector
from labstream.ops.slo import burn_rate, outcomes, parse_slo
from labstream.ops.slo_index import SloIndex

NOW = 1_767_225_600.0 + 10 * 86400.0  # 2026-01-11 UTC: "last month" is December 2025
STAGES = ("ingest", "file_stats", "key_summary", "mystery")  # mystery: a stage no contract declares
SCOPES: tuple[list[str] | None, ...] = (None, ["beta"], ["alpha", "gamma"], ["nobody"])


def _entity(rnd: random.Random, i: int, t0: float) -> list[LineageRecord]:
    key, project = f"E{i:04d}", ("alpha", "beta", "gamma")[i % 3]
    out, t = [], t0
    for stage in STAGES[: rnd.randint(1, 4)]:
        wall = rnd.choice([0.05, 0.5, 3.0, 45.0, 700.0, 5000.0, 20000.0]) * rnd.uniform(0.9, 1.1)
        status = rnd.choices(["ok", "failed", "quarantined", "running"], [8, 1, 1, 1])[0]
        retried = [{"wall_seconds": wall / 2, "cpu_seconds": wall / 3, "peak_rss_bytes": 2.0**31}]
        out.append(
            LineageRecord(
                stage=stage,
                key=key,
                project=project,
                status=status,
                request={"cpu": rnd.choice([1, 2, 4]), "memory_mb": 4096, "gpu": rnd.choice([0, 0, 1])},
                cpu_seconds=wall * rnd.uniform(0.2, 3.0),
                wall_seconds=0.0 if status == "running" else wall,
                gpu_seconds=rnd.choice([0.0, wall / 2]),
                peak_rss_bytes=rnd.randint(1, 8) * 2**30,
                started_at=t,
                ended_at=t if status == "running" else t + wall,
                attempts=retried if rnd.random() < 0.2 else [],
                id=f"{key}-{stage}",
            )
        )
        t += wall + rnd.uniform(0, 300)
    return out


def _series(collector: object) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _same(settings: Settings, scopes: Iterable[list[str] | None] = SCOPES) -> int:
    """Asserts the incremental exposition equals the reference's for each scope; returns the series."""
    n = 0
    for scope in scopes:
        new = _series(PlatformCollector(settings, projects=scope, clock=lambda: NOW))
        old = _series(Reference(settings, projects=scope, clock=lambda: NOW))
        assert sorted(new) == sorted(old), f"scope {scope}: series differ: {set(new) ^ set(old)}"
        for name, value in old.items():  # sums may differ in the last bits (another addition order)
            assert new[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (scope, name)
        n += len(old)
    return n


def test_incremental_exposition_equals_the_full_recomputation(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    rnd = random.Random(11)
    cat = open_catalog(settings.catalog_url).upgrade()
    try:
        # last month, then this month; some entities open for hours (breach the 1 h SLO while open)
        first = [r for i in range(60) for r in _entity(rnd, i, NOW - 20 * 86400.0 + 600.0 * i)]
        cat.record_lineage_many(first)
        for i, (project, stage) in enumerate([("alpha", "file_stats"), ("beta", None), ("alpha", None)] * 3):
            cat.quarantine(f"in/{i}.csv", "bad header", project=project, stage=stage)
        assert _same(settings) > 100
        later = [r for i in range(60, 150) for r in _entity(rnd, i, NOW - 6 * 3600.0 + 120.0 * i)]
        for i in range(0, len(later), 37):  # several scrapes between writes
            cat.record_lineage_many(later[i : i + 37])
            _same(settings, (None, ["beta"]))
        recs = {r.id: r for r in first + later}
        failed = next(r for r in later if r.status == "failed" and r.stage != "ingest")
        running = next(r for r in later if r.status == "running")
        ok = [r for r in recs.values() if r.status == "ok" and r.stage == "file_stats"]
        newest = max(ok, key=lambda r: (r.ended_at, r.id))
        cat.record_lineage_many(
            [
                replace(  # replayed: failed -> ok, its first attempt kept
                    failed,
                    status="ok",
                    ended_at=failed.ended_at + 50.0,
                    attempts=[{"wall_seconds": 9.0}],
                ),
                replace(running, status="ok", wall_seconds=31.0, ended_at=running.started_at + 31.0),
                replace(newest, status="failed"),  # the stage's latest ok end moves back
            ]
        )
        _same(settings)
        future = replace(  # stamped after the scrape's clock: not in this month's spend yet
            later[-1],
            id="late-clock",
            key="E9999",
            started_at=NOW + 10.0,
            ended_at=NOW + 99.0,
        )
        params_only = replace(  # an older writer's record: its key only in params
            later[0], id="params-key", stage="key_summary", status="ok", key="", params={"key": later[0].key}
        )
        cat.record_lineage_many([future, params_only])
        assert _same(settings) > 100
    finally:
        cat.close()


def test_a_scrape_reads_only_what_was_written_since_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home")
    rnd = random.Random(5)
    cat = open_catalog(settings.catalog_url).upgrade()
    decoded = 0
    real = lineage_store._to_lineage

    def counting(m: object) -> LineageRecord:
        nonlocal decoded
        decoded += 1
        return real(m)

    monkeypatch.setattr(lineage_store, "_to_lineage", counting)
    try:
        history = [r for i in range(400) for r in _entity(rnd, i, NOW - 86400.0 + 60.0 * i)]
        cat.record_lineage_many(history)
        _series(PlatformCollector(settings, clock=lambda: NOW))  # the first scrape folds in the history
        new = _entity(random.Random(1), 400, NOW - 600.0)
        new = [replace(r, **{"key": "E-new", "id": f"new-{r.stage}"}) for r in new]
        cat.record_lineage_many(new)
        decoded = 0
        after = _series(PlatformCollector(settings, clock=lambda: NOW))
        fresh = decoded
        decoded = 0
        before = _series(Reference(settings, clock=lambda: NOW))
        assert decoded >= len(history)  # the counter sees the old way's reads: every record
        # the new tasks, then their entity's whole lineage for its clock: nothing of the history
        # (+1: the watermark's own record, read again to see the catalog is the one folded so far)
        assert fresh <= 2 * len(new) + 1, f"a scrape decoded {fresh} lineage records for {len(new)} new ones"
        assert sorted(after) == sorted(before)
        decoded = 0
        _series(PlatformCollector(settings, clock=lambda: NOW))
        assert decoded <= 1  # nothing new: only the watermark's own record, to see the catalog is the same
    finally:
        cat.close()


def test_a_catalog_replaced_under_the_same_url_is_read_again(tmp_path: Path) -> None:
    """A catalog restored from an older backup while the API runs: its numbers restart below the
    watermark, and the scrape must not keep the replaced catalog's numbers nor skip the new writes."""
    settings = Settings(home=tmp_path / "home")
    rnd = random.Random(3)
    with open_catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many([r for i in range(40) for r in _entity(rnd, i, NOW - 7200.0 + 60.0 * i)])
        _same(settings, (None,))
    url = settings.catalog_url
    assert url.startswith("sqlite:///"), url
    Path(url.removeprefix("sqlite:///")).unlink()
    with open_catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many(_entity(random.Random(4), 7, NOW - 3600.0))
        _same(settings, (None, ["beta"]))


def test_a_price_book_edited_in_place_prices_every_task_again(tmp_path: Path) -> None:
    shipped = resources.files("labstream.ops") / "pricebooks" / "labstream-2026-12.toml"
    book = tmp_path / "lab-book.toml"
    book.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings(home=tmp_path / "home", price_book=str(book))
    with open_catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many([r for i in range(30) for r in _entity(random.Random(8), i, NOW - 7200.0)])
        before = _series(PlatformCollector(settings, clock=lambda: NOW))
        text = book.read_text(encoding="utf-8")
        rates = re.findall(r"^vcpu_hour\s*=\s*([0-9.]+)", text, flags=re.M)
        assert rates, "the shipped book names no vcpu_hour"
        book.write_text(re.sub(r"^vcpu_hour\s*=\s*([0-9.]+)", "vcpu_hour = 9.5", text, flags=re.M))
        _same(settings, (None, ["beta"]))
        after = _series(PlatformCollector(settings, clock=lambda: NOW))
    cost = [k for k in before if k[0] == "labstream_cost_usd_total"]
    assert cost and all(after[k] > before[k] for k in cost if before[k] > 0)


def test_slo_index_counts_what_outcomes_and_burn_rate_count() -> None:
    """On a 5-minute grid (so ages land exactly on the target and events on windows' edges), with
    entities open, ended, ending after `now`, and some taken out again."""
    slo = parse_slo("p", "ingested->report p95 <= 1h")
    for seed in range(30):
        rnd = random.Random(seed)
        clocks: dict[str, tuple[float, float | None]] = {}
        index = SloIndex(slo)
        for i in range(rnd.randint(0, 60)):
            start = 300.0 * rnd.randint(0, 60)
            end = (
                None
                if rnd.random() < 0.3
                else start + rnd.choice([0, 1, 3599, 3600, 3601, 300 * rnd.randint(0, 30)])
            )
            clocks[f"E{i}"] = (start, end)
            index.add(start, end, 1)
        for key in rnd.sample(sorted(clocks), k=len(clocks) // 4):
            index.add(*clocks.pop(key), -1)
        for now in (0.0, 3600.0, 9000.0, 18_000.0, 300.0 * rnd.randint(0, 80)):
            seen = outcomes(slo, [(k, s, e) for k, (s, e) in clocks.items()], now)
            assert index.events(now)[:2] == (len(seen), sum(e.bad for e in seen)), (seed, now)
            for w in (300.0, 1800.0, 3600.0, 21_600.0):
                n, bad = index.window(now, w)
                assert (bad / n / slo.budget if n else 0.0) == burn_rate(slo, seen, now, w), (seed, now, w)


def test_warm_up_folds_the_history_before_the_first_scrape(tmp_path: Path) -> None:
    """`labstream serve` warms the state at start: the first scrape then reads only what is new."""
    from labstream.ops.metrics import warm_up
    from labstream.ops.metrics_state import state_for

    settings = Settings(home=tmp_path / "home")
    history = [r for i in range(50) for r in _entity(random.Random(9), i, NOW - 86400.0 + 60.0 * i)]
    with open_catalog(settings.catalog_url).upgrade() as cat:
        cat.record_lineage_many(history)
    assert warm_up(settings) >= len(history)
    state = state_for(settings)
    before = state.decoded
    _series(PlatformCollector(settings, clock=lambda: NOW))
    assert state.decoded - before <= 1  # only the watermark's own record
