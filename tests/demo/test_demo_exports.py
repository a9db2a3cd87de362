"""The demo package's public API is what `__all__` says, and every name resolves."""

import labstream.demo as demo


def test_demo_exports() -> None:
    assert demo.__all__ == ["DemoResult", "DemoSummary", "demo_reference", "run_demo", "run_streaming_demo"]
    for name in demo.__all__:
        assert getattr(demo, name) is not None, name
