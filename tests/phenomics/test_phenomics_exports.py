"""The phenomics public API is what `__all__` says, and every name resolves."""

import labstream.phenomics as ph


def test_phenomics_exports() -> None:
    assert "profile_directory" in ph.__all__ and "pipeline" in ph.__all__
    for name in ph.__all__:
        assert getattr(ph, name) is not None, name
