"""Events: forged or malformed records published on the ingest topic by another client, beside a real
`file.landed` event of a good control file; the filestats pipeline (PipelineRunner) consumes both.
The control's row must appear once; a forged event must be dead-lettered on `<topic>.dlq` and never
become a row; a claim check must never make the worker read outside the object store."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from labstream.core.events import Event, ObjectRef
from labstream.core.topics import INGEST_TOPIC
from labstream.testing.hostile import _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "events"
HOSTNAME = Path("/etc/hostname")


def _build(forge):  # type: ignore[no-untyped-def]
    """A home with one good file ingested for real; `forge(inputs)` returns the raw bytes to publish."""

    def build(tmp: Path) -> dict[str, Any]:
        from labstream.ingest import Ingestor

        home = tmp / "home"
        good = tmp / "landing" / "good.txt"
        good.parent.mkdir()
        good.write_text(f"control file {tmp.name}\n" * 10)
        ingestor = Ingestor(_probe.settings(home))
        try:
            res = ingestor.ingest_file(good)
        finally:
            ingestor.close()
        assert res.event is not None, res
        secret, token = _probe.plant_secret(tmp / "outside")
        inputs = {"tmp": tmp, "home": home, "control": res.event, "secret": secret, "token": token}
        inputs["raw"] = forge(inputs)
        return inputs

    return build


def _run(inputs: dict[str, Any]) -> Observed:
    from labstream.pipelines.filestats import pipeline
    from labstream.runtime import PipelineRunner
    from labstream.stream import open_stream

    o = Observed()
    home: Path = inputs["home"]
    settings = _probe.settings(home)
    stream = open_stream(settings.stream_url)
    try:
        stream.publish(INGEST_TOPIC, inputs["raw"], key="forged")
        stream.flush()
    finally:
        stream.close()
    with PipelineRunner(settings, pipeline(), "local?cpu=1", backoff_base=0.05) as runner:
        status = runner.run_until_idle(timeout=120)
    o.add(json.dumps(status["file_stats"]))
    _probe.dead_letters(home, INGEST_TOPIC, o)
    _probe.quarantined(home, o)
    control: Event = inputs["control"]
    rows = _probe.lake_rows(home, "files")
    o.control_rows = sum(r["event_id"] == control.id for r in rows)
    forged = inputs.get("forged_id")
    # a replay of the control is not an offender of its own: it must leave the control one row
    o.offender_rows = 0 if forged == control.id else sum(r["event_id"] != control.id for r in rows)
    store_root = str(home / "objects") + os.sep
    for r in rows:
        if r["uri"].startswith("file://") and not os.path.normpath(r["uri"][7:]).startswith(store_root):
            o.leaks.append(f"a row was made from {r['uri']}, outside the object store")
    digests = [_probe.sha256_of(HOSTNAME)] if HOSTNAME.exists() else []
    _probe.scan_leaks([home / "objects"], o, tokens=[inputs["token"]], digests=digests)
    return o


def _event(inputs: dict[str, Any], **kw: Any) -> bytes:
    """A forged file.landed event: the control's fields, overridden by `kw` (refs given as dicts)."""
    base = json.loads(inputs["control"].to_json())
    base.update(id="forged-" + inputs["tmp"].name, key="forged", **kw)
    inputs["forged_id"] = base["id"]
    return json.dumps(base).encode()


def _ref(inputs: dict[str, Any], uri: str, sha256: str | None = None) -> list[dict[str, Any]]:
    good = inputs["control"].refs[0]
    return [ObjectRef(uri, sha256 or good.sha256, good.size).to_dict()]


def _secret_uri(inputs: dict[str, Any]) -> bytes:
    data = inputs["secret"].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    return _event(inputs, refs=[ObjectRef(f"file://{inputs['secret']}", sha, len(data)).to_dict()])


def _dotdot_uri(inputs: dict[str, Any]) -> bytes:
    good = inputs["control"].refs[0].uri
    rel = "/../" * 12 + str(inputs["secret"]).lstrip("/")
    data = inputs["secret"].read_bytes()
    uri = good.rsplit("/", 1)[0] + rel
    return _event(inputs, refs=[ObjectRef(uri, hashlib.sha256(data).hexdigest(), len(data)).to_dict()])


def _dlq(names: str | None = None, **kw: Any) -> Expect:
    return Expect("dlq", names=names, **kw)


CASES = [
    Case(
        "ev-not-json",
        FAMILY,
        "bytes that are not JSON",
        _build(lambda i: b"\x00\xffnot json{"),
        _run,
        _dlq("malformed"),
    ),
    Case(
        "ev-missing-fields",
        FAMILY,
        "a JSON object without id/type/key",
        _build(lambda i: b'{"data": {"path": "x"}}'),
        _run,
        _dlq("malformed"),
    ),
    Case(
        "ev-not-an-object",
        FAMILY,
        "a JSON list",
        _build(lambda i: b"[1, 2, 3]"),
        _run,
        _dlq("malformed"),
    ),
    Case(
        "ev-claim-etc-hostname",
        FAMILY,
        "claim check file:///etc/hostname with a made-up sha256",
        _build(lambda i: _event(i, refs=_ref(i, "file:///etc/hostname", "b" * 64))),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-claim-secret-right-sha",
        FAMILY,
        "claim check of a file outside the store, with its true sha256",
        _build(_secret_uri),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-claim-dotdot",
        FAMILY,
        "claim check inside the store's URI, then ../ out of it",
        _build(_dotdot_uri),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-claim-wrong-sha",
        FAMILY,
        "the control's object with a wrong sha256",
        _build(lambda i: _event(i, refs=_ref(i, i["control"].refs[0].uri, "0" * 64))),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-claim-http",
        FAMILY,
        "claim check http://169.254.169.254/latest/meta-data (metadata endpoint)",
        _build(lambda i: _event(i, refs=_ref(i, "http://169.254.169.254/latest/meta-data"))),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-no-refs",
        FAMILY,
        "a file.landed event with no claim check",
        _build(lambda i: _event(i, refs=[])),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-oversized",
        FAMILY,
        "a 4 MB event (data padded)",
        _build(lambda i: _event(i, data={**i["control"].data, "pad": "x" * 4_000_000})),
        _run,
        _dlq("forged-"),
    ),
    Case(
        "ev-unknown-type",
        FAMILY,
        "an event of type file.exploded (not for this stage)",
        _build(lambda i: _event(i, type="file.exploded")),
        _run,
        Expect("ignored"),
    ),
    Case(
        "ev-replayed-control",
        FAMILY,
        "the control's own event published again (at-least-once redelivery)",
        _build(lambda i: (i.__setitem__("forged_id", i["control"].id), i["control"].to_json())[1]),
        _run,
        Expect("ignored"),
    ),
]
