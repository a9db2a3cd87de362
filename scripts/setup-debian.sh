#!/usr/bin/env bash
# Installs the Debian packages labstream needs (bio tools, PostgreSQL, Chromium, fonts; prometheus for
# promtool, which tests the shipped alert rules in deploy/prometheus/).
# Idempotent: a marker file records the package list that was installed, so a second run is instant.
set -euo pipefail
PKGS=(samtools bcftools tabix minimap2 bwa fastp freebayes dwgsim art-nextgen-simulation-tools seqan-apps
      postgresql chromium chromium-driver bowtie2-examples libhts-dev samtools-test
      fonts-dejavu-core procps poppler-utils prometheus)
marker=".venv/.debian-packages"
want="${PKGS[*]}"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then exit 0; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
mkdir -p .venv && echo "$want" > "$marker"
