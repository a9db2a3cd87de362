"""Pytest fixtures users and our tests share: real servers started on 127.0.0.1 and stopped."""

__all__: list[str] = []  # nothing re-exported: import names from their modules
