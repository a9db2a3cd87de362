"""A corpus of hostile or unusual inputs run through the platform's real entry points (issue 11).

    python -m labstream.testing.hostile [--only FAMILY] [--case ID] [--json FILE]

Each `Case` writes a hostile input beside a good control input of its family, runs them through a
real entry point, and is judged by five verdicts computed from what happened: CLEAR (the error names
the offending file/event/parameter, no traceback, non-zero exit for CLI mistakes), CONTAINED
(quarantined, dead-lettered, HTTP 4xx or refused, as the case demands), REST (the control was fully
processed), SECURE (nothing outside the allowed roots read or written) and UNIQUE (every control row
once). A case whose fix is not yet in the tree carries `known_failing="why"` (strict xfail in the
pytest, so the list can only shrink); none does now.
"""

from labstream.testing.hostile._case import Case, Expect, Observed, Result, judge
from labstream.testing.hostile._runner import FAMILIES, Totals, all_cases, run_case, run_corpus

__all__ = [
    "FAMILIES",
    "Case",
    "Expect",
    "Observed",
    "Result",
    "Totals",
    "all_cases",
    "judge",
    "run_case",
    "run_corpus",
]
