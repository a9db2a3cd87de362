"""Reference pipelines built from stages (the science modules declare their own; these are generic)."""
