"""The public API is what `labstream.__all__` says, and each name is importable (httpx-style pin)."""

import labstream


def test_exported_members() -> None:
    assert labstream.__all__ == ["Event", "LabstreamError", "ObjectRef", "Settings", "__version__"]
    for name in labstream.__all__:
        assert hasattr(labstream, name), name


def test_every_error_descends_from_the_root() -> None:
    from labstream.core import errors

    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.LabstreamError), name
