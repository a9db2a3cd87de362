"""The vocabulary every layer shares: events, errors, settings, resources (imports no labstream code)."""
