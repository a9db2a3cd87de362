"""Fault injection for crash tests: make a worker SIGKILL itself at a named commit step.

`LABSTREAM_FAULT="after_lake_commit:0.05,after_publish:0.01"` makes the process kill itself with
SIGKILL (no clean-up, no atexit, exactly like the OOM killer or a lost node) right after that step of
a batch commit, with that probability. Unset, `maybe_crash` costs one dict lookup.
"""

from __future__ import annotations

import os
import random
import signal

from labstream.core.errors import ConfigError

STEPS = ("after_objects", "after_lake_commit", "after_lineage", "after_publish", "after_offset_commit")


def parse_faults(spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        step, _, prob = part.partition(":")
        if step not in STEPS:
            raise ConfigError(f"LABSTREAM_FAULT: unknown step {step!r}; use one of {', '.join(STEPS)}")
        try:
            p = float(prob or "1")
        except ValueError as err:
            raise ConfigError(f"LABSTREAM_FAULT: probability {prob!r} of {step} is not a number") from err
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"LABSTREAM_FAULT: probability of {step} must be in [0, 1], got {p}")
        out[step] = p
    return out


_FAULTS = parse_faults(os.environ.get("LABSTREAM_FAULT", ""))


def maybe_crash(step: str) -> None:
    """Called at each commit step; kills this process when a fault for `step` fires."""
    p = _FAULTS.get(step)
    if p and random.random() < p:
        os.kill(os.getpid(), signal.SIGKILL)
