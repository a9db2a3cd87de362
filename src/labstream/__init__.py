"""labstream: streams lab data from instrument to insight."""

from labstream.core.errors import LabstreamError
from labstream.core.events import Event, ObjectRef
from labstream.core.settings import Settings

__version__ = "0.1.0"

__all__ = ["Event", "LabstreamError", "ObjectRef", "Settings", "__version__"]
