"""`lazy_exports`: the science packages load their heavy modules only when a name is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labstream.core.lazy import lazy_exports


def test_a_package_imports_cheaply_and_loads_a_name_on_use() -> None:
    code = (
        "import sys, labstream.genomics as g, labstream.phenomics as p\n"
        "assert 'pysam' not in sys.modules and 'labstream.phenomics.model' not in sys.modules\n"
        "assert 'CHANNELS' in p.__all__ and p.CHANNELS[0] == 'DNA'\n"
        "assert 'labstream.phenomics.model' in sys.modules and 'skimage' not in sys.modules\n"
        "print(sorted(g.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "call_sample" in out.stdout


def test_a_name_not_exported_is_an_attribute_error() -> None:
    getattr_ = lazy_exports("labstream.genomics", {"call_sample": "chain"})
    assert getattr_("call_sample").__name__ == "call_sample"
    with pytest.raises(AttributeError, match="module 'labstream.genomics' has no attribute 'nope'"):
        getattr_("nope")
