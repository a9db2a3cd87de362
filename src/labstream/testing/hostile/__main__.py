"""`python -m labstream.testing.hostile [--only FAMILY] [--case ID] [--json FILE]`: run the hostile-input
corpus, one line per case, then the totals; exit 1 if any case fails."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from labstream.testing.hostile._case import Result
from labstream.testing.hostile._runner import FAMILIES, all_cases, run_corpus


def _line(r: Result) -> str:
    marks = " ".join(f"[{'green' if ok else 'red'}]{k}[/]" for k, ok in r.verdicts().items())
    state = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
    known = " [yellow](known failing)[/]" if r.case.known_failing else ""
    msg = escape(" ".join(r.message.split())[:220])
    return f"{state} {r.case.id:<30} {r.case.family:<10} {marks} {r.seconds:5.1f}s{known}  {msg}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labstream.testing.hostile", description=__doc__)
    ap.add_argument("--only", action="append", choices=FAMILIES, help="run one family (repeatable)")
    ap.add_argument("--case", action="append", help="run one case by id (repeatable)")
    ap.add_argument("--json", type=Path, help="write every case's verdicts and message to this file")
    args = ap.parse_args(argv)
    console = Console(highlight=False, width=240)
    cases = all_cases(args.only)
    if args.case:
        cases = [c for c in cases if c.id in set(args.case)]
    results, t = run_corpus(cases, on_result=lambda r: console.print(_line(r)))
    console.print(
        f"cases {t.cases}, passed {t.passed}, clear {t.clear_percent:.0f}%, security failures "
        f"{t.security_failures}, silent losses {t.silent_losses}, duplicates {t.duplicates}, "
        f"known failing {t.known_failing}, {t.seconds:.0f} s"
    )
    if t.unexpected:
        console.print(
            "[red]unexpected (fails without known_failing, or passes with it):[/] " + ", ".join(t.unexpected)
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "totals": {**asdict(t), "clear_percent": t.clear_percent},
                    "cases": [
                        {
                            "id": r.case.id,
                            "family": r.case.family,
                            "description": r.case.description,
                            "passed": r.passed,
                            **r.verdicts(),
                            "silent_loss": r.silent_loss,
                            "known_failing": r.case.known_failing,
                            "message": r.message,
                            "seconds": round(r.seconds, 2),
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    return 0 if t.passed == t.cases else 1


if __name__ == "__main__":
    sys.exit(main())
