"""The vocabulary every layer shares: events, errors, settings, resources (imports no labstream code)."""

__all__: list[str] = []  # nothing re-exported: import names from their modules
