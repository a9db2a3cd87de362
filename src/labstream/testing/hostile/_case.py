"""The corpus's vocabulary: a Case, what it expects, what really happened, and the verdicts.

A case writes a hostile input next to at least one good control input of the same family, feeds both
through a real entry point, and reports what it observed (`Observed`). The verdicts are computed from
those observations only (`judge`); nothing about a case's outcome is written down in advance, except
`known_failing`: a reason the case is expected to fail on this tree (its fix is being made elsewhere).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACEBACK = "Traceback (most recent call last)"

# how the hostile input must be contained
CONTAIN = {
    "quarantine": "quarantined (catalog / <home>/quarantine, or the run's quarantine list), naming it",
    "dlq": "dead-lettered on <topic>.dlq",
    "http4xx": "refused with an HTTP 4xx",
    "refused": "refused: non-zero exit, nothing produced from it",
    "ignored": "not ingested, not an error (temporary / hidden files)",
    "once": "processed exactly once",
    "handled": "either quarantined naming it, or processed exactly once",
    "refused_or_once": "either refused (non-zero exit, nothing from it), or processed exactly once",
}


@dataclass(frozen=True)
class Expect:
    """What must hold. `names`: text the error must contain (the offending file, event or parameter);
    None when no error is due. `offender_rows`: rows/outputs the hostile input itself may yield."""

    contain: str
    names: str | None = None
    exit_nonzero: bool = False
    rest: bool = True
    offender_rows: int = 0

    def __post_init__(self) -> None:
        if self.contain not in CONTAIN:
            raise ValueError(f"unknown containment {self.contain!r}; use one of {sorted(CONTAIN)}")


@dataclass
class Observed:
    """What the entry point really did. `text` gathers every message a user would see: output, the
    escaped exception (with its traceback), quarantine problems, dead-letter errors, HTTP bodies."""

    text: str = ""
    exit_code: int | None = None
    status: int | None = None
    quarantined: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)
    offender_rows: int = 0
    control_expected: int = 1
    control_rows: int = 0
    leaks: list[str] = field(default_factory=list)

    def add(self, *texts: object) -> None:
        self.text += "".join(f"{t}\n" for t in texts if t)


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    description: str
    build: Callable[[Path], dict[str, Any]]
    run: Callable[[dict[str, Any]], Observed]
    expect: Expect
    known_failing: str | None = None


# the verdicts, in the order they are printed; a case passes when all five hold
VERDICTS = ("clear", "contained", "rest", "secure", "unique")


@dataclass
class Result:
    case: Case
    clear: bool
    contained: bool
    rest: bool
    secure: bool
    unique: bool
    message: str
    seconds: float = 0.0
    observed: Observed | None = None

    @property
    def passed(self) -> bool:
        return all(self.verdicts().values())

    @property
    def silent_loss(self) -> bool:
        """Something vanished without a word: the control was not processed, or the hostile input was
        neither contained nor named in any message."""
        named = self.observed is not None and self.case.expect.names is not None and self.clear
        return not self.rest or (not self.contained and not named)

    def verdicts(self) -> dict[str, bool]:
        """The five verdicts by their printed names (CLEAR, CONTAINED, REST, SECURE, UNIQUE)."""
        return {name.upper(): getattr(self, name) for name in VERDICTS}


def _contained(e: Expect, o: Observed) -> bool:
    named_q = any(e.names is None or e.names in q for q in o.quarantined)
    if e.contain == "quarantine":
        return named_q and o.offender_rows == 0
    if e.contain == "dlq":
        return bool(o.dead_letters) and o.offender_rows == 0
    if e.contain == "http4xx":
        return o.status is not None and 400 <= o.status < 500
    if e.contain == "refused":
        return o.exit_code not in (None, 0) and o.offender_rows == 0
    if e.contain == "ignored":
        return o.offender_rows == 0 and not o.quarantined
    if e.contain == "refused_or_once":
        return (o.exit_code not in (None, 0) and o.offender_rows == 0) or o.offender_rows == 1
    if e.contain == "once":
        return o.offender_rows == e.offender_rows
    return (named_q and o.offender_rows == 0) or o.offender_rows == max(e.offender_rows, 1)  # handled


def judge(case: Case, o: Observed, seconds: float = 0.0) -> Result:
    e = case.expect
    why: list[str] = []
    clear = TRACEBACK not in o.text
    if not clear:
        why.append("traceback shown")
    if e.names is not None and e.names not in o.text:
        clear = False
        why.append(f"no message names {e.names!r}")
    if e.exit_nonzero and o.exit_code in (None, 0):
        clear = False
        why.append(f"exit code {o.exit_code}")
    contained = _contained(e, o)
    if not contained:
        why.append(
            f"not {e.contain} (offender rows {o.offender_rows}, quarantined {len(o.quarantined)}, "
            f"dlq {len(o.dead_letters)}, exit {o.exit_code}, http {o.status})"
        )
    rest = not e.rest or o.control_rows >= o.control_expected
    if not rest:
        why.append(f"control {o.control_rows}/{o.control_expected}")
    unique = o.control_rows <= o.control_expected and o.offender_rows <= max(e.offender_rows, 1)
    if not unique:
        why.append(f"duplicates (control {o.control_rows}/{o.control_expected}, offender {o.offender_rows})")
    secure = not o.leaks
    if not secure:
        why.append("LEAK: " + "; ".join(o.leaks))
    first = next((ln.strip() for ln in o.text.splitlines() if e.names and e.names in ln), "")
    message = "; ".join(why) if why else (first[:160] or "ok")
    return Result(case, clear, contained, rest, secure, unique, message, seconds, o)


def crashed(case: Case, seconds: float) -> Result:
    """The harness or the entry point raised out of the case: every verdict that depends on it fails."""
    o = Observed(text=traceback.format_exc(), control_rows=0)
    r = judge(case, o, seconds)
    r.message = "case raised: " + traceback.format_exc().strip().splitlines()[-1][:200]
    return r
