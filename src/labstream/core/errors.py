"""Errors of labstream, one hierarchy under one root.

    LabstreamError
     ├── ConfigError            bad or missing configuration; unknown URL scheme
     │    └── MissingDependencyError   an optional package is not installed (names the extra)
     ├── InputError             bad instrument or user input: names the file/record and the problem
     │    └── QCFailed          a sample failed a sanity gate: no result of it may read as negative
     ├── StreamError            the stream backend failed
     ├── StorageError           objects, lake or catalog failed
     │    └── IntegrityError    a checksum or authentication tag did not match
     ├── ComputeError           an executor could not run or place a task
     ├── StageError             a stage function raised; carries the event id
     └── AccessDenied           governance refused an action (role, project, region)

Every error carries the data needed to act on it and its message ends with what to do.
"""

from __future__ import annotations


class LabstreamError(Exception):
    """Root of every error labstream raises on purpose."""


class ConfigError(LabstreamError):
    """The configuration is wrong or incomplete."""


class MissingDependencyError(ConfigError):
    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"the optional package {package!r} is not installed; install it with "
            f"`pip install 'labstream[{extra}]'`"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # picklable across process pools and Dask (the default rebuilds from the message alone)
        return (type(self), (self.package, self.extra))


class InputError(LabstreamError):
    """Bad input: truncated, corrupt, mislabelled or hostile. Quarantined, never fatal to the stream."""

    def __init__(self, source: str, problem: str, *, record: str | None = None, hint: str = "") -> None:
        self.source = str(source)
        self.problem = problem
        self.record = record
        self.hint = hint
        where = f"{self.source}" + (f" (record {record})" if record else "")
        msg = f"{where}: {problem}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_input_error, (type(self), self.source, self.problem, self.record, self.hint))


def _rebuild_input_error(
    cls: type[InputError], source: str, problem: str, record: str | None, hint: str
) -> InputError:
    return cls(source, problem, record=record, hint=hint)


class QCFailed(InputError):
    """A sample failed one or more sanity gates (genomics.gates). An InputError, so the streaming
    runtime quarantines the sample with the reason; `gates` names the failed gates."""

    def __init__(self, source: str, gates: list[str], reasons: str) -> None:
        self.gates = list(gates)
        self.reasons = reasons
        super().__init__(
            source,
            f"failed sanity gate {', '.join(self.gates)}: {reasons}",
            hint="check the reads given for this sample, or pass --allow-qc-fail to write outputs marked "
            "QC FAILED",
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.source, self.gates, self.reasons))


class StreamError(LabstreamError):
    """The stream backend failed to publish, consume or commit."""


class StorageError(LabstreamError):
    """An object store, lake table or catalog operation failed."""


class IntegrityError(StorageError):
    """Content does not match its checksum or authentication tag: it was corrupted or tampered with."""


class ComputeError(LabstreamError):
    """A task could not be placed or run on the executor."""


class StageError(LabstreamError):
    """A stage function raised while processing an event."""

    def __init__(self, stage: str, event_id: str, cause: str) -> None:
        self.stage = stage
        self.event_id = event_id
        self.cause = cause
        super().__init__(f"stage {stage!r} failed on event {event_id}: {cause}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.stage, self.event_id, self.cause))


class AccessDenied(LabstreamError):
    """Governance refused the action: wrong role, project or region."""
