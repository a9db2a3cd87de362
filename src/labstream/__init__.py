"""labstream: streams lab data from instrument to insight."""

from typing import TYPE_CHECKING, Any

from labstream.core.errors import LabstreamError
from labstream.core.events import Event, ObjectRef

if TYPE_CHECKING:
    from labstream.core.settings import Settings

__version__ = "0.1.0"

__all__ = ["Event", "LabstreamError", "ObjectRef", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    """`Settings` on first use: pydantic-settings costs ~0.17 s at import, paid by every tool start."""
    if name == "Settings":
        from labstream.core.settings import Settings

        return Settings
    raise AttributeError(f"module 'labstream' has no attribute {name!r}")
