"""An assay: the named, versioned test a clinical lab runs, with every file it needs pinned by sha256.

    # assays/LAMBDA-PANEL.toml (paths relative to this file)
    name = "LAMBDA-PANEL"
    version = "1.0"
    genome_build = "NC_001416.1"
    caller = "bcftools"
    [reference]
    path = "ref.fa"
    sha256 = "9a1c..."                 # required: a changed reference is a different test
    [targets]                          # optional BED: the reportable region (coverage is judged here)
    path = "targets.bed"
    sha256 = "..."
    [annotation]                       # optional GFF3; [known] optional VCF; both with path + sha256
    [gates]                            # hard sanity gates (genomics.gates.GateThresholds fields)
    min_mean_depth = 20
    [report_thresholds]                # limits of the report's QC table (report_content metric names)
    mean_depth = 25

Why sha256 in the definition, checked at load: a validated test is validated on these exact files; a
reference or BED edited in place must fail loudly rather than silently change what a report means. The
sha256 of each file and of the TOML itself go into the lineage of every call made with it.
Calls outside the targets are not reported (`reportable`): the VCF keeps every call as evidence, the
report and the `variants` rows keep only those in the reportable region and say how many were left out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pysam

from labstream.core.errors import ConfigError
from labstream.core.hashing import sha256_file
from labstream.genomics.gates import GateThresholds
from labstream.genomics.report_content import DEFAULT_THRESHOLDS, Threshold

FILES = ("reference", "targets", "annotation", "known")
Region = tuple[str, int, int]  # BED: contig, 0-based start, end


@dataclass(frozen=True)
class AssayFile:
    role: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Assay:
    name: str
    version: str
    genome_build: str
    definition: AssayFile  # the TOML itself
    reference: AssayFile
    targets: AssayFile | None = None
    annotation: AssayFile | None = None
    known: AssayFile | None = None
    caller: str = "bcftools"
    gates: GateThresholds = field(default_factory=GateThresholds)
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def files(self) -> list[AssayFile]:
        """The definition and every file it pins, for lineage."""
        extra = (self.reference, self.targets, self.annotation, self.known)
        return [self.definition, *(f for f in extra if f is not None)]

    def regions(self) -> list[Region] | None:
        return read_bed(self.targets.path) if self.targets else None


def _pinned(spec: Any, role: str, folder: Path, source: Path) -> AssayFile:
    if not isinstance(spec, dict) or "path" not in spec or "sha256" not in spec:
        raise ConfigError(f"{source}: [{role}] needs path and sha256; add both (sha256sum FILE gives it)")
    path = (folder / str(spec["path"])).resolve()
    if not path.is_file():
        raise ConfigError(f"{source}: [{role}] file {path} does not exist; fix the path")
    actual = sha256_file(path)[0]
    if actual != str(spec["sha256"]).lower():
        raise ConfigError(
            f"{source}: [{role}] {path.name} has sha256 {actual}, the assay pins {spec['sha256']}; the file "
            "changed since the assay was validated: restore it, or re-validate and update the sha256"
        )
    return AssayFile(role, path, actual)


def _thresholds(spec: dict[str, Any], source: Path) -> tuple[Threshold, ...]:
    known = {t.metric: t for t in DEFAULT_THRESHOLDS}
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown report threshold(s) {unknown}; use: {', '.join(known)}")
    return tuple(replace(t, limit=float(spec.get(t.metric, t.limit))) for t in DEFAULT_THRESHOLDS)


def _gates(spec: dict[str, Any], source: Path) -> GateThresholds:
    names = {f.name for f in fields(GateThresholds)}
    unknown = sorted(set(spec) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown gate(s) {unknown}; use: {', '.join(sorted(names))}")
    return GateThresholds(**{k: float(v) for k, v in spec.items()})


def load_assay(path: str | Path) -> Assay:
    """Read and verify an assay definition: ConfigError naming the file and the field for anything wrong."""
    source = Path(path).resolve()
    try:
        spec = tomllib.loads(source.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read assay {source}: {err}; fix the file") from err
    for key in ("name", "version", "genome_build", "reference"):
        if key not in spec:
            raise ConfigError(f"{source}: assay has no {key!r}; add it")
    folder = source.parent
    pinned = {r: _pinned(spec[r], r, folder, source) for r in FILES if r in spec}
    assay = Assay(
        name=str(spec["name"]),
        version=str(spec["version"]),
        genome_build=str(spec["genome_build"]),
        definition=AssayFile("assay", source, sha256_file(source)[0]),
        reference=pinned["reference"],
        targets=pinned.get("targets"),
        annotation=pinned.get("annotation"),
        known=pinned.get("known"),
        caller=str(spec.get("caller", "bcftools")),
        gates=_gates(spec.get("gates", {}), source),
        thresholds=_thresholds(spec.get("report_thresholds", {}), source),
    )
    if assay.targets is not None:
        contigs = _contigs(assay.reference.path)
        for contig, _s, _e in read_bed(assay.targets.path):
            if contig not in contigs:
                raise ConfigError(
                    f"{assay.targets.path}: contig {contig!r} is not in the assay's reference; fix the BED"
                )
    return assay


def find_assay(folder: str | Path, name: str) -> Assay:
    """The assay `name` from a folder of definitions (`NAME.toml`, or any TOML whose name is NAME)."""
    root = Path(folder)
    direct = root / f"{name}.toml"
    candidates = [direct] if direct.is_file() else sorted(root.glob("*.toml"))
    for p in candidates:
        assay = load_assay(p)
        if assay.name == name:
            return assay
    known = ", ".join(sorted(p.stem for p in root.glob("*.toml"))) or "none"
    raise ConfigError(
        f"no assay named {name!r} in {root} (found: {known}); add its definition or fix the sheet"
    )


def sample_assay(folder: str | Path | None, name: str, reference: str | Path, sample: str) -> Assay:
    """The assay a sample sheet names for `sample`, checked against the pipeline's reference: an
    InputError naming the sample (the runtime quarantines it with the reason) when it cannot be used."""
    from labstream.core.errors import InputError

    if not folder:
        raise InputError(
            sample,
            f"the sample sheet asks for assay {name!r} but no assays folder is set",
            hint="set `assay_dir` in the pipeline settings to the folder of assay definitions",
        )
    try:
        assay = find_assay(folder, name)
    except ConfigError as err:
        raise InputError(sample, str(err), hint="add the assay's definition or fix the sheet") from err
    if sha256_file(reference)[0] != assay.reference.sha256:
        raise InputError(
            sample,
            f"assay {assay.label} pins reference {assay.reference.path.name} "
            f"({assay.reference.sha256[:12]}), not this pipeline's {Path(reference).name}",
            hint="run the sample with a pipeline on the assay's reference",
        )
    return assay


def _contigs(fasta: Path) -> set[str]:
    with pysam.FastaFile(str(fasta)) as fh:
        return set(fh.references)


def read_bed(path: str | Path) -> list[Region]:
    """BED regions (contig, start, end), comments and track lines skipped; ConfigError for a bad line."""
    out: list[Region] = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        cols = line.split("\t")
        try:
            contig, start, end = cols[0], int(cols[1]), int(cols[2])
        except (IndexError, ValueError) as err:
            raise ConfigError(f"{path} line {n} is not BED (contig, start, end); fix it") from err
        if start < 0 or end <= start:
            raise ConfigError(f"{path} line {n}: end {end} must be after start {start}; fix it")
        out.append((contig, start, end))
    return out


def in_regions(contig: str, pos: int, regions: list[Region]) -> bool:
    """Is 1-based position `pos` inside any region."""
    return any(c == contig and s < pos <= e for c, s, e in regions)


def reportable(rows: list[dict[str, Any]], regions: list[Region] | None) -> tuple[list[dict[str, Any]], int]:
    """(rows in the reportable region, how many were outside); all rows when the assay has no targets."""
    if regions is None:
        return rows, 0
    kept = [r for r in rows if in_regions(str(r["contig"]), int(r["start"]), regions)]
    return kept, len(rows) - len(kept)


def target_depth(bam: str | Path, regions: list[Region]) -> dict[str, float]:
    """Mean depth and share of bases at 10x or more over the target bases (zero-depth bases included),
    from `samtools depth -a -b` (duplicates and secondary reads excluded, as samtools does by default)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".bed") as bed:
        bed.write("".join(f"{c}\t{s}\t{e}\n" for c, s, e in regions))
        bed.flush()
        total = n = deep = 0
        for line in pysam.depth("-a", "-b", bed.name, str(bam)).splitlines():
            d = int(line.rsplit("\t", 1)[1])
            total, n, deep = total + d, n + 1, deep + (d >= 10)
    return {"mean_depth": total / n if n else 0.0, "fraction_10x": deep / n if n else 0.0}


def report_fields(assay: Assay | None, outside: int) -> dict[str, Any]:
    """What the report says about the assay: its name, build, reference checksum, thresholds, files,
    and how many calls fell outside its reportable region."""
    if assay is None:
        return {}
    notes = ()
    if assay.targets is not None:
        notes = (
            f"Only calls inside the assay's reportable region ({assay.targets.path.name}) are reported; "
            f"{outside} call(s) outside it are in the VCF but not in this report.",
        )
    return {
        "assay": assay.label,
        "genome_build": assay.genome_build,
        "reference_sha256": assay.reference.sha256,
        "thresholds": assay.thresholds,
        "extra_limitations": notes,
        "inputs": [{"what": f.role, "name": f.path.name, "sha256": f.sha256} for f in assay.files()],
    }


__all__ = [
    "Assay",
    "AssayFile",
    "Region",
    "find_assay",
    "in_regions",
    "load_assay",
    "read_bed",
    "report_fields",
    "reportable",
    "sample_assay",
    "target_depth",
]
