"""Run parameters from callers: bounded in size, never a server path, objects named by id.

Why: `pipeline_params` become keyword arguments of a pipeline factory, and some of those are files the
stages read (a platemap, a relationships table). A caller who could write `{"platemap": "/srv/other
project/platemap.csv"}` would make the server read a file of another project into the caller's rows.
So a run names such inputs by the id of a registered data object (governance/objects.py) of its own
project; the executor decrypts it into the run's private scratch folder and passes that path. Any
string that looks like a path or URI is refused at submission (and again at execution, for runs
recorded before this check existed).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labstream.core.errors import AccessDenied, InputError
from labstream.core.hashing import sha256_bytes
from labstream.core.identifiers import is_identifier

MAX_PARAMS_BYTES = 64 * 1024  # the whole params object, as JSON
MAX_STRING = 1024
MAX_DEPTH = 4
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # file:, s3://, C:\, drs:...
_FILE_EXT_RE = re.compile(
    r"\.(csv|tsv|txt|json|ya?ml|parquet|xlsx?|fa|fasta|fai|fq|fastq|gz|bgz|bam|bai|cram|vcf|bcf|bed|gff3?|"
    r"tiff?|png|jpe?g|zarr|zip|db|sqlite|pem|key|env|cfg|ini|toml|sh|py|npy|npz|h5)$",
    re.I,
)
RESERVED = frozenset({"input_topic"})  # set by the executor, never by a caller


class ParamsTooLarge(InputError):
    """The parameters exceed MAX_PARAMS_BYTES (the API answers 413)."""


class ParamNotAllowed(InputError):
    """A parameter names a server path or URI, or a reserved name (the API answers 422)."""


def looks_like_path(value: str) -> bool:
    """A string a server could read as a file: separators, a scheme or drive, `~`/`.` first, or a file
    extension. Conservative on purpose: a real value of that shape is passed as an object id instead."""
    return (
        "/" in value
        or "\\" in value
        or value.startswith(("~", "."))
        or bool(_URI_RE.match(value))
        or bool(_FILE_EXT_RE.search(value))
    )


def check_params_size(params: Any, *, what: str = "params") -> None:
    """Refuse a params object over MAX_PARAMS_BYTES or nested deeper than MAX_DEPTH."""
    size = len(json.dumps(params, separators=(",", ":"), default=str))
    if size > MAX_PARAMS_BYTES:
        raise ParamsTooLarge(
            what,
            f"parameters are {size} bytes, over the limit of {MAX_PARAMS_BYTES}",
            hint="put large inputs in the inbox or register them as data objects and name them by id",
        )
    _check_depth(params, what, 0)


def _check_depth(value: Any, what: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParamNotAllowed(what, f"parameters nest deeper than {MAX_DEPTH} levels", hint="flatten them")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_depth(child, what, depth + 1)


def object_params(gov: Any, project: str, pipeline_params: Any) -> dict[str, str]:
    """Check `pipeline_params` (see the module docstring); return {name: object id} of those naming
    data objects, which must belong to `project` (AccessDenied otherwise)."""
    from labstream.governance.objects import get_object

    if pipeline_params is None:
        return {}
    if not isinstance(pipeline_params, dict):
        raise ParamNotAllowed("pipeline_params", "pipeline_params must be a JSON object of name: value")
    objects: dict[str, str] = {}
    for name, value in pipeline_params.items():
        source = f"pipeline_params.{str(name)[:64]}"
        if not is_identifier(name) or name in RESERVED:
            raise ParamNotAllowed(source, f"parameter name {str(name)[:64]!r} is not allowed")
        for text in _strings(value):
            if len(text) > MAX_STRING:
                raise ParamsTooLarge(source, f"a value of {len(text)} characters is over {MAX_STRING}")
            obj = get_object(gov, text) if is_identifier(text) else None
            if obj is not None:
                if obj.project != project:
                    raise AccessDenied(
                        f"{source}: object {text} is not in project {project!r}; a run may only name "
                        "objects of its own project"
                    )
                if not isinstance(value, str):
                    raise ParamNotAllowed(source, "name a data object as the whole value, not inside a list")
                objects[name] = text
            elif looks_like_path(text):
                raise ParamNotAllowed(
                    source,
                    "the value looks like a server path or URI, which a run may not name (not echoed)",
                    hint="register the file as a data object of the project and pass its id",
                )
    return objects


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@contextmanager
def resolved_params(gov: Any, project: str, pipeline_params: Any) -> Iterator[dict[str, Any]]:
    """The factory keyword arguments of a run: checked again, object ids replaced by private plaintext
    copies in a scratch folder under the data root that is removed when the run ends."""
    from labstream.governance.objects import get_object

    objects = object_params(gov, project, pipeline_params)
    kw = dict(pipeline_params or {})
    if not objects:
        yield kw
        return
    scratch = Path(gov.settings.home) / "scratch"  # inside the data root, like the API's own scratch
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=scratch) as tmp:
        for name, object_id in objects.items():
            obj = get_object(gov, object_id)
            assert obj is not None  # checked by object_params
            safe = Path(obj.name).name
            local = Path(tmp) / object_id / (safe if safe not in ("", ".", "..") else "object")
            local.parent.mkdir()
            data = gov.store(obj.project).get_bytes(obj.uri)
            if sha256_bytes(data) != obj.sha256:
                raise InputError(f"object {object_id}", "content does not match its registered sha256")
            local.write_bytes(data)
            kw[name] = str(local)
        yield kw


__all__ = [
    "MAX_PARAMS_BYTES",
    "ParamNotAllowed",
    "ParamsTooLarge",
    "check_params_size",
    "looks_like_path",
    "object_params",
    "resolved_params",
]
