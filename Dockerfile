# syntax=docker/dockerfile:1
# The image the Helm chart runs (ghcr.io/labstream/labstream): the API, the watchers, the stage workers
# and the Dask scheduler and workers (entry points `labstream` and `dask`). Build from the repository root:
#   docker build -t ghcr.io/labstream/labstream:0.1.0 .
# tests/deploy/test_dockerfile.py checks it against the chart (user, entry points) and the code (every
# external tool the stages call is installed); checkov scans it with the chart. Not built in CI (no
# container engine there): say so when you change it.

FROM python:3.11.11-slim-bookworm AS build
# mappy (minimap2's Python binding) compiles from source
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/labstream \
 && /opt/labstream/bin/pip install --no-cache-dir --upgrade pip wheel setuptools \
 && /opt/labstream/bin/pip install --no-cache-dir -c constraints.txt '.[gcs,models,sites]'

FROM python:3.11.11-slim-bookworm
# the external tools the genomics stages call (bwa and freebayes: the optional aligner and caller; dwgsim:
# a read simulator `labstream models train` trains on; ART: the learned caller's held-out simulator),
# and Chromium for the PDF reports
RUN apt-get update \
 && apt-get install -y --no-install-recommends samtools bcftools tabix minimap2 bwa freebayes dwgsim \
      art-nextgen-simulation-tools \
      chromium fonts-dejavu-core procps \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 labstream \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/labstream --create-home --shell /usr/sbin/nologin labstream
COPY --from=build /opt/labstream /opt/labstream
# The chart mounts the root file system read-only with a writable /tmp and LABSTREAM_HOME volume:
# numba compiles the image kernels once per pod into /tmp (~25 s on the first site), matplotlib and
# Chromium keep their caches there too.
ENV PATH=/opt/labstream/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LABSTREAM_HOME=/var/lib/labstream \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/tmp
USER 10001:10001
WORKDIR /var/lib/labstream
EXPOSE 8080 8786 8787
# checkov:skip=CKV_DOCKER_2: one image runs the API, watchers, workers and Dask; liveness and readiness are per role in the chart (probes on /healthz for the API), not one HEALTHCHECK
ENTRYPOINT ["labstream"]
CMD ["--help"]
