"""The image's Dockerfile agrees with the chart that runs it and the code it carries: the user the
chart's pods run as, the entry points the chart calls, every external tool the stages call installed.
(No container engine runs in CI, so the image is not built here; checkov scans the file with the chart.)"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import yaml

from labstream.deploy import load_value_set, render_chart

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# external programs a module may call, and the Debian package that has each
TOOLS = {"samtools": "samtools", "bcftools": "bcftools", "bgzip": "tabix", "tabix": "tabix",
         "minimap2": "minimap2", "bwa": "bwa", "freebayes": "freebayes", "fastp": "fastp",
         "chromium": "chromium", "pdftoppm": "poppler-utils", "mosdepth": "mosdepth"}  # fmt: skip
# simulators and test harnesses are not in the image's job
NOT_SHIPPED_ROLES = ("instruments", "testing")


def _runtime_packages() -> set[str]:
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    install = re.search(
        r"apt-get install -y --no-install-recommends ([^&]+)&&", final_stage.replace("\\\n", " ")
    )
    assert install, "the final stage installs no Debian packages"
    return set(install.group(1).split())


def test_every_external_tool_the_code_calls_is_in_the_image() -> None:
    called: dict[str, str] = {}
    for path in (ROOT / "src" / "labstream").rglob("*.py"):
        if path.relative_to(ROOT / "src" / "labstream").parts[0] in NOT_SHIPPED_ROLES:
            continue
        text = path.read_text()
        for tool in TOOLS:
            if re.search(rf"[\"']{tool}[\"']", text):
                called.setdefault(tool, str(path.relative_to(ROOT)))
    assert {"samtools", "bcftools", "minimap2"} <= set(called)  # the scan sees the genomics stages
    missing = {t: where for t, where in called.items() if TOOLS[t] not in _runtime_packages()}
    assert not missing, f"called but not installed in the image: {missing}"


def test_the_image_runs_as_the_chart_user_with_the_entry_points_it_calls() -> None:
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE, re.M)
    assert user, "the image must name a numeric non-root USER"
    commands: set[str] = set()
    uids: set[int] = set()
    for name in ("minimal", "gpu-strimzi-dask"):
        for m in render_chart(load_value_set(name)):
            text = yaml.safe_dump(m.body)
            commands |= set(re.findall(r"command:\n\s*- (\S+)", text))
            uids |= {int(u) for u in re.findall(r"runAsUser: (\d+)", text)}
    assert uids == {int(user.group(1))}, uids
    assert commands == {"labstream", "dask"}, commands
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert commands <= scripts
    assert re.search(r'^ENTRYPOINT \["labstream"\]$', DOCKERFILE, re.M)


def test_the_build_copies_only_what_pip_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M)
    named = {p.rstrip("/") for line in copied for p in line.split()}
    assert "*" in ignore and {f"!{n}" if n != "src" else "!src/" for n in named} <= set(ignore)
