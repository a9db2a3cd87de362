"""The cohort store: per-sample gVCF rows in one append-only Delta table plus a derived summary.

Contract:
- `add(rows)` writes the rows of one sample or a batch as ONE new Delta version of `cohort_calls` (one
  file per `kind` partition) and removes or rewrites nothing. Each sample carries the application
  transaction `cohort/<sample>`: a sample already in the cohort is skipped, so adding it twice, or from two
  processes at once, lands it exactly once (Delta refuses the second commit of the same transaction).
- `compact()` folds the samples added since the summary's `through` version into `cohort_summary`
  (one overwrite of that small derived table; readers keep the snapshot they opened). When files it
  summarised are gone (a withdrawal deleted them) it rebuilds the summary from every row.
- Statistics are exact at every moment: summary + the samples added after it, summed at read time.
- `withdraw(sample, reason)` records who and why in `cohort_withdrawals`, deletes the sample's rows and
  rebuilds the summary: the sample is in no statistic afterwards. It cannot be added again under that id.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from labstream.cohort import stats
from labstream.cohort.gvcf import DEFAULT_MAX_BLOCK, read_gvcf
from labstream.cohort.schema import CALLS, SUMMARY, WITHDRAWALS
from labstream.core.errors import ConfigError, InputError
from labstream.lake.base import LakeTables
from labstream.lake.errors import LakeError
from labstream.lake.schema import conform

__all__ = ["MAX_BLOCK_KEY", "AddResult", "CohortStore", "txn_of"]


MAX_BLOCK_KEY = "labstream.cohort.max_block"
_DICT = ("kind", "sample", "contig", "ref", "alt", "project")
ROWS_PER_STEP = 20_000_000
SUMMARY_INPUT = ["kind", "sample", "contig", "start", "end", "ref", "alt", "ac", "an", "pos_an"]


def txn_of(sample: str) -> str:
    return f"cohort/{sample}"


@dataclass(frozen=True)
class AddResult:
    added: list[str]
    skipped: list[str]
    version: int | None
    rows: int
    bytes_written: int


class CohortStore:
    """A cohort over one lake (see the module docstring)."""

    def __init__(self, lake: LakeTables, *, max_block: int | None = None) -> None:
        self.lake = lake
        for t in (CALLS, SUMMARY, WITHDRAWALS):
            lake.ensure_table(t)
        self.max_block = self._fix_max_block(max_block)
        self._base: tuple[int, int, stats.Summary, frozenset[str]] | None = None
        self._delta: tuple[frozenset[str], stats.Summary] | None = None
        self._split: tuple[tuple[int, int], tuple[stats.Summary, pads.Dataset | None, bool]] | None = None
        self.derived: dict[str, tuple[object, Any]] = {}  # name -> (what it was derived from, value)

    def _fix_max_block(self, wanted: int | None) -> int:
        """The cohort's maximum block length lives in the table (property MAX_BLOCK_KEY): queries rely on
        it, so a store opened with another value is refused rather than silently answering wrongly."""
        from deltalake import DeltaTable

        dt = DeltaTable(self.lake.table_uri(CALLS.name), storage_options=self.lake.storage_options or None)
        stored = dt.metadata().configuration.get(MAX_BLOCK_KEY)
        if stored is not None:
            if wanted is not None and int(stored) != wanted:
                raise ConfigError(
                    f"cohort at {self.lake.table_uri(CALLS.name)} was built with max_block={stored}, "
                    f"not {wanted}; open it without max_block (or build a new cohort)"
                )
            return int(stored)
        value = int(wanted or DEFAULT_MAX_BLOCK)
        if value < 1:
            raise ConfigError(f"max_block must be >= 1, got {value}")
        from deltalake.exceptions import CommitFailedError

        try:
            dt.alter.set_table_properties({MAX_BLOCK_KEY: str(value)}, raise_if_not_exists=False)
        except CommitFailedError:  # another store set it at the same moment: that value holds
            return self._fix_max_block(wanted)
        return value

    # -- writes ---------------------------------------------------------------------------------------

    def add_gvcf(self, path: Any, *, sample: str | None = None, **kw: Any) -> AddResult:
        return self.add(read_gvcf(path, sample=sample, max_block=self.max_block), **kw)

    def add(self, rows: pa.Table, *, lineage_id: str | None = None, project: str | None = None) -> AddResult:
        """Append the rows of one or more samples as one Delta version (see the contract)."""
        if rows.num_rows and int(pa.compute.max(rows["end"].cast(pa.int64())).as_py() or 0) < 0:
            raise InputError("cohort rows", "negative coordinates", hint="use 0-based half-open starts")
        long = pa.compute.greater(pa.compute.subtract(rows["end"], rows["start"]), self.max_block)
        if (
            rows.num_rows
            and pa.compute.any(pa.compute.and_(long, pa.compute.equal(rows["kind"], "ref"))).as_py()
        ):
            raise InputError(
                "cohort rows",
                f"a reference block is longer than {self.max_block} bases",
                hint="split blocks with labstream.cohort.gvcf.split_blocks",
            )
        batch = uuid.uuid4().hex
        rows = rows.set_column(
            rows.schema.get_field_index("batch"), "batch", pa.repeat(pa.scalar(batch), rows.num_rows)
        )
        from deltalake import DeltaTable

        names = sorted(pa.compute.unique(rows["sample"]).to_pylist())
        for _ in range(5):
            # check and commit on ONE snapshot: a same-sample commit after it makes Delta refuse ours
            dt = DeltaTable(
                self.lake.table_uri(CALLS.name), storage_options=self.lake.storage_options or None
            )
            done = [s for s in names if dt.transaction_version(txn_of(s)) is not None]
            todo = [s for s in names if s not in done]
            if not todo:
                return AddResult([], done, None, 0, 0)
            part = rows.filter(pa.compute.is_in(rows["sample"], pa.array(todo))) if done else rows
            version = self._commit(part, todo, lineage_id, project, table=dt)
            if version is None:
                continue  # a concurrent add committed first: look again at who is in
            return AddResult(todo, done, version, part.num_rows, self._bytes_added(version))
        raise LakeError(f"cohort add of {names} kept conflicting with concurrent adds; retry it later")

    def _commit(
        self,
        rows: pa.Table,
        samples: list[str],
        lineage_id: str | None,
        project: str | None,
        *,
        table: Any = None,
    ) -> int | None:
        """1 write the rows sorted by position, zstd-compressed (the cohort is mostly cold storage);
        2 commit them with one application transaction per sample, as one Delta version. Returns the
        version, or None when a concurrent commit won (Delta refuses ours; nothing was added)."""
        from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        rows = rows.sort_by([("kind", "ascending"), ("contig", "ascending"), ("start", "ascending")])
        arrow = conform(
            CALLS.name,
            rows,
            CALLS.arrow_schema,
            defaults={"lineage_id": lineage_id, "project": project or "default"},
        )
        dt = table or DeltaTable(
            self.lake.table_uri(CALLS.name), storage_options=self.lake.storage_options or None
        )
        try:
            write_deltalake(
                dt,
                arrow,
                mode="append",
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(txn_of(s), 0) for s in samples]
                ),
                writer_properties=WriterProperties(compression="ZSTD", compression_level=3),
            )
        except CommitFailedError:
            return None
        except Exception as err:
            raise LakeError(f"cohort add to {self.lake.table_uri(CALLS.name)} failed: {err}") from err
        return int(dt.version())

    def _bytes_added(self, version: int | None) -> int:
        """Bytes of the data files one commit added, from its Delta log entry (-1: not a local lake)."""
        if version is None:
            return 0
        if not self.lake.is_local:
            return -1
        log = Path(self.lake.table_uri(CALLS.name)) / "_delta_log" / f"{version:020d}.json"
        actions = [json.loads(line) for line in log.read_text().splitlines()]
        return sum(int(a["add"].get("size", 0)) for a in actions if "add" in a)

    def files_added(self, version: int) -> list[tuple[str, str]]:
        """(action, path) of every add/remove in one `cohort_calls` commit (local lakes): the proof that
        an add removed nothing."""
        log = Path(self.lake.table_uri(CALLS.name)) / "_delta_log" / f"{version:020d}.json"
        out = []
        for line in log.read_text().splitlines():
            action = json.loads(line)
            for kind in ("add", "remove"):
                if kind in action:
                    out.append((kind, action[kind]["path"]))
        return out

    def withdraw(self, sample: str, reason: str, *, by: str = "", lineage_id: str | None = None) -> int:
        """Take `sample` out of every statistic, recording why; returns how many rows were deleted."""
        from deltalake import DeltaTable

        if not reason.strip():
            raise InputError(sample, "withdrawal without a reason", hint="say why (e.g. 'consent withdrawn')")
        if sample not in self.samples():
            raise InputError(
                sample, "is not in the cohort", hint="list samples with `labstream cohort stats`"
            )
        self.lake.append(
            WITHDRAWALS.name, [{"sample": sample, "reason": reason, "by": by}], lineage_id=lineage_id
        )
        dt = DeltaTable(self.lake.table_uri(CALLS.name), storage_options=self.lake.storage_options or None)
        quoted = sample.replace("'", "''")
        metrics = dt.delete(f"sample = '{quoted}'")
        self.compact()
        return int(metrics.get("num_deleted_rows", 0))

    def withdrawals(self) -> pa.Table:
        return self.lake.read(
            WITHDRAWALS.name, columns=["sample", "reason", "by", "lineage_id", "_ingested_at"]
        )

    # -- summary --------------------------------------------------------------------------------------

    def version(self, table: str) -> int:
        """The table's latest version. On a local lake, the newest commit file of its `_delta_log` (a
        commit appears atomically, so it is exact; ~0.1 ms instead of a log update, which is most of a
        warm point query's time); elsewhere the lake's own answer."""
        if not self.lake.is_local:
            return self.lake.version(table)
        log = Path(self.lake.table_uri(table)) / "_delta_log"
        return max(int(n[:20]) for n in os.listdir(log) if n.endswith(".json") and n[:20].isdigit())

    def _files(self, version: int | None = None) -> pads.FileSystemDataset:
        return self.lake.dataset(CALLS.name, version=version)  # type: ignore[return-value]

    def _stored_summary(self) -> tuple[int, stats.Summary]:
        """(through, summary) as stored; (-1, empty) before the first compaction."""
        t = self.lake.read(
            SUMMARY.name,
            columns=["kind", "contig", "start", "ref", "alt", "ac", "an", "n_het", "n_homalt", "through"],
        )
        if t.num_rows == 0:
            return -1, stats.empty_summary()
        through = int(t["through"][0].as_py())

        def part(kind: str, cols: list[str]) -> pa.Table:
            rows = t.filter(pa.compute.equal(t["kind"], kind)).select(cols)
            order = [c for c in ("contig", "start", "ref", "alt", "sample") if c in cols]
            return rows.sort_by([(c, "ascending") for c in order])

        return through, stats.Summary(
            part("site", ["contig", "start", "ref", "alt", "ac", "n_het", "n_homalt"]).cast(stats._SITE),
            part("pos", ["contig", "start", "an"]).cast(stats._POS),
            part("cov", ["contig", "start", "an"]).cast(stats._POS),
            part("sample", ["ref"]).rename_columns(["sample"]).cast(stats._SAMPLES),
        )

    def base(self, version: int | None = None) -> tuple[stats.Summary, pads.Dataset | None, bool]:
        """(stored summary, dataset of the files added after it or None, whether the summary is current).

        Not current means files it summarised were removed: statistics must come from every row.
        The stored summary is cached per `cohort_summary` version, so warm queries do not re-read it."""
        sv = self.version(SUMMARY.name)
        if self._base is None or self._base[0] != sv:
            through, summary = self._stored_summary()
            old = frozenset(self._files(through).files) if through >= 0 else frozenset()
            self._base = (sv, through, summary, old)
        _, through, summary, old = self._base
        cv = self.version(CALLS.name) if version is None else version
        if self._split is not None and self._split[0] == (sv, cv):
            return self._split[1]
        now = self._files(cv)
        if not old <= set(now.files):
            out: tuple[stats.Summary, pads.Dataset | None, bool] = (summary, None, False)
        else:
            frags = [f for f in now.get_fragments() if f.path not in old]
            delta = pads.FileSystemDataset(frags, now.schema, now.format, now.filesystem) if frags else None
            out = (summary, delta, True)
        self._split = ((sv, cv), out)
        return out

    @staticmethod
    def dictionary_dataset(ds: pads.Dataset) -> pads.FileSystemDataset:
        """The same files, reading the string columns as Arrow dictionaries (no per-row string copies):
        2-3x faster to read and to sum in DuckDB than plain strings."""
        fmt = pads.ParquetFileFormat(read_options=pads.ParquetReadOptions(dictionary_columns=list(_DICT)))
        frags = [
            fmt.make_fragment(f.path, ds.filesystem, partition_expression=f.partition_expression)
            for f in ds.get_fragments()
        ]
        schema = pa.schema(
            [
                pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.name in _DICT else f
                for f in ds.schema
            ]
        )
        return pads.FileSystemDataset(frags, schema, fmt, ds.filesystem)

    @staticmethod
    def row_groups(files: pads.Dataset, rows: int = ROWS_PER_STEP) -> list[pads.FileSystemDataset]:
        """The files of `files` in consecutive groups of about `rows` rows (at least one file each):
        the unit that folds and sub-cohort sums read at once, so memory stays bounded at any size."""
        groups: list[list[pads.Fragment]] = [[]]
        held = 0
        for frag in files.get_fragments():
            n = frag.count_rows()
            if groups[-1] and held + n > rows:
                groups.append([])
                held = 0
            groups[-1].append(frag)
            held += n
        return [pads.FileSystemDataset(g, files.schema, files.format, files.filesystem) for g in groups if g]

    def _fold(self, summary: stats.Summary, files: pads.Dataset) -> stats.Summary:
        """Add the samples of `files` to `summary`, about ROWS_PER_STEP rows at a time (bounded memory)."""
        for step in self.row_groups(self.dictionary_dataset(files)):
            summary = stats.merge(summary, stats.summarize(step.to_table(columns=SUMMARY_INPUT)))
        return summary

    def compact(self) -> dict[str, Any]:
        """Fold new samples into the summary (or rebuild it); one overwrite of `cohort_summary`."""
        from deltalake import write_deltalake

        from labstream.cohort.index import keep_index

        version = self.lake.version(CALLS.name)
        summary, delta, current = self.base(version)
        if current and delta is None:
            summary_now, mode = summary, "unchanged"
        elif current:
            summary_now, mode = self._fold(summary, delta), "folded"
        else:
            summary_now, mode = self._fold(stats.empty_summary(), self._files(version)), "rebuilt"
        if mode == "unchanged" and self._base is not None and (done := self._base[1]) >= 0:
            return {"mode": mode, "through": done, "index": keep_index(self, summary_now, done)}
        parts = []
        named = summary_now.samples.rename_columns(["ref"])
        for kind, t in (
            ("site", summary_now.site),
            ("pos", summary_now.pos),
            ("cov", summary_now.cov),
            ("sample", named),
        ):
            t = t.append_column("kind", pa.array([kind] * t.num_rows, pa.string()))
            parts.append(t)
        rows = pa.concat_tables(parts, promote_options="default")
        rows = rows.append_column("through", pa.array([version] * rows.num_rows, pa.int64()))
        arrow = conform(SUMMARY.name, rows, SUMMARY.arrow_schema, defaults={"project": "default"})
        write_deltalake(
            self.lake.table_uri(SUMMARY.name),
            arrow,
            mode="overwrite",
            storage_options=self.lake.storage_options or None,
        )
        index = keep_index(self, summary_now, version)
        return {"mode": mode, "through": version, "sites": summary_now.site.num_rows, "index": index}

    # -- reads ----------------------------------------------------------------------------------------

    def parts(self) -> tuple[stats.Summary, stats.Summary | None, bool]:
        """(stored summary, summary of the samples added after it or None, current?); the second is
        cached per set of new files, so warm queries read no sample rows."""
        summary, delta, ok = self.base()
        if delta is None:
            return summary, None, ok
        key = frozenset(delta.files)
        if self._delta is None or self._delta[0] != key:
            rows = self.dictionary_dataset(delta).to_table(columns=SUMMARY_INPUT)
            self._delta = (key, stats.summarize(rows))
        return summary, self._delta[1], ok

    def current(self) -> stats.Summary:
        """The exact summary of every sample in the cohort now (stored summary + newer samples)."""
        summary, delta, ok = self.base()
        if not ok:
            return stats.summarize(self._files().to_table())
        return summary if delta is None else stats.merge(summary, stats.summarize(delta.to_table()))

    def sample_projects(self) -> dict[str, str]:
        """sample -> project, for every sample in the cohort now (read from the reference blocks and
        records: each add writes one project per sample)."""
        t = self.dictionary_dataset(self._files()).to_table(columns=["sample", "project"])
        t = t.unify_dictionaries().combine_chunks()
        pairs = t.group_by(["sample", "project"], use_threads=False).aggregate([])
        return dict(zip(pairs["sample"].to_pylist(), pairs["project"].to_pylist(), strict=True))

    def samples(self) -> list[str]:
        """Every sample in the cohort now."""
        summary, delta, ok = self.base()
        if not ok:
            return sorted(set(self._files().to_table(columns=["sample"])["sample"].to_pylist()))
        names = set(summary.samples["sample"].to_pylist())
        if delta is not None:
            names |= set(delta.to_table(columns=["sample"])["sample"].to_pylist())
        return sorted(names)
