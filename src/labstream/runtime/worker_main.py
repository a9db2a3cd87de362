"""A stage worker as its own process: `python -m labstream.runtime.worker_main --pipeline mod:attr`.

`mod:attr` names a Pipeline, a Stage, or a function returning either. Backends come from the usual
settings (`LABSTREAM_HOME`, `LABSTREAM_STREAM_URL`, ...). `--stage NAME` (repeatable) runs only those
stages; `--until-idle` exits 0 once every input is drained instead of running until SIGTERM/SIGINT.
Crash tests run this under `LABSTREAM_FAULT` (see faults.py) and kill it with SIGKILL.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from typing import Any

from labstream.core.settings import Settings
from labstream.runtime.runner import PipelineRunner
from labstream.runtime.stage import Pipeline, Stage


def load_pipeline(target: str) -> Pipeline:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise SystemExit(f"--pipeline must look like package.module:attribute, got {target!r}")
    obj: Any = getattr(importlib.import_module(module_name), attr)
    if callable(obj) and not isinstance(obj, Pipeline | Stage):
        obj = obj()
    if isinstance(obj, Stage):
        return Pipeline(obj.name, (obj,))
    if isinstance(obj, Pipeline):
        return obj
    raise SystemExit(f"{target!r} is a {type(obj).__name__}, not a Pipeline or Stage")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="labstream-worker", description=__doc__)
    ap.add_argument("--pipeline", required=True, help="module:attr of a Pipeline, a Stage or a factory")
    ap.add_argument("--stage", action="append", help="run only this stage (repeatable)")
    ap.add_argument("--executor", default=None, help="executor URL (default: settings.executor_url)")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--until-idle", action="store_true", help="exit once every input is drained")
    ap.add_argument("--timeout", type=float, default=600.0, help="with --until-idle: give up after this")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    pipeline = load_pipeline(args.pipeline)
    with PipelineRunner(
        Settings(), pipeline, args.executor, stages=args.stage, batch_size=args.batch_size
    ) as runner:
        if args.until_idle:
            runner.run_until_idle(timeout=args.timeout)
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        runner.run_forever(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
