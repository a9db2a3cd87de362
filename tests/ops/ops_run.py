"""What the shared filestats run (conftest.py `ran`) holds: (project, sample) -> files."""

SAMPLES = {("alpha", "S1"): 3, ("alpha", "S2"): 2, ("beta", "S3"): 1}
