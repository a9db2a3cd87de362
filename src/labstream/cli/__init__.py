__all__: list[str] = []  # nothing re-exported: import names from their modules
