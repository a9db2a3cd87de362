"""The hostile-input corpus (issue 11): every case passes, except those marked known_failing, which
must still fail (strict xfail), so the list shrinks to empty as their fixes land."""

from __future__ import annotations

import pytest

from labstream.testing.hostile import Case, all_cases, run_case

CASES = all_cases()


def test_the_corpus_is_large_and_spans_every_family() -> None:
    families = {c.family for c in CASES}
    assert len(CASES) >= 60
    assert {"images", "fastq", "references", "platemaps", "names", "events", "api"} <= families


def _param(case: Case):  # type: ignore[no-untyped-def]
    marks = [pytest.mark.xfail(reason=case.known_failing, strict=True)] if case.known_failing else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_case(case: Case) -> None:
    r = run_case(case)
    assert r.passed, f"{case.id}: {r.verdicts()} {r.message}"


def test_a_result_passes_only_when_all_five_verdicts_hold() -> None:
    from itertools import product

    from labstream.testing.hostile import Expect, Result

    case = Case("c", "names", "d", lambda tmp: {}, lambda inputs: None, Expect("refused"))  # type: ignore[arg-type,return-value]
    for flags in product([True, False], repeat=5):
        r = Result(case, *flags, message="")
        assert list(r.verdicts()) == ["CLEAR", "CONTAINED", "REST", "SECURE", "UNIQUE"]
        assert list(r.verdicts().values()) == list(flags)
        assert r.passed is all(flags)
