"""The vocabulary every layer shares: events, errors, settings, resources. Imports nothing else of labstream."""
