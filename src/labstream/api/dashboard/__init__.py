"""The read-only dashboard: `queries` reads persisted platform state scoped to the caller's projects;
`static/` holds the page (plain HTML, CSS and JS, no build step, nothing fetched from outside)."""
