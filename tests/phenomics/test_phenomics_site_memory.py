"""A site's large arrays reuse the memory the previous site freed (no page faults), values unchanged."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

_PROBE = """
import json, resource
import numpy as np
from labstream.phenomics.site import reuse_freed_memory

def faults():  # minor page faults of five 48 MB arrays, allocated, written and freed in turn
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        a = np.empty(48 << 20, np.uint8)
        a[::4096] = 1
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

before = faults()
ok = reuse_freed_memory()
faults()  # the heap grows once
print(json.dumps({"ok": ok, "before": before, "after": faults()}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    # a fresh interpreter: the setting is process-wide and must not leak into the test session
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["ok"] is True
    assert got["before"] >= 5  # glibc's default maps arrays over 32 MB afresh: at least a fault each
    assert got["after"] * 10 <= got["before"]  # served from the heap the first round grew
