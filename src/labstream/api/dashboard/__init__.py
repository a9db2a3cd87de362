"""The read-only dashboard: `queries` reads persisted platform state scoped to the caller's projects;
`static/` holds the page (plain HTML, CSS and JS, no build step, nothing fetched from outside)."""

__all__: list[str] = []  # nothing re-exported: import names from their modules
