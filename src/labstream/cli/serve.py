"""`labstream serve`: the governed API under uvicorn (TLS when a certificate is given), with the run
executor in a background thread so WES/REST submissions actually run."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import typer

from labstream.api.limits import MAX_HEADER_BYTES


def uvicorn_limits() -> dict[str, object]:
    """Server-level limits, so oversized requests are refused before the app sees them: h11 is chosen
    explicitly (its incomplete-event limit bounds the request line and headers; httptools, if it were
    installed and picked, has no such limit), keep-alive and concurrency are bounded. The app enforces
    body and header limits again (api/limits.py), whatever server runs it."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": 5,
        "limit_concurrency": 256,
        "server_header": False,
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="interface to bind"),
        port: int = typer.Option(8080, help="TCP port"),
        tls_cert: Path | None = typer.Option(None, exists=True, dir_okay=False, help="PEM certificate"),
        tls_key: Path | None = typer.Option(None, exists=True, dir_okay=False, help="PEM private key"),
        runs: bool = typer.Option(True, "--runs/--no-runs", help="execute submitted runs in this process"),
        site: str | None = typer.Option(None, help="compute site runs are placed on (residency)"),
    ) -> None:
        """Serve the REST, DRS, htsget and WES API (OpenAPI at /openapi.json)."""
        import uvicorn

        from labstream.api.app import create_app
        from labstream.core.settings import Settings
        from labstream.governance.run_executor import RunExecutor
        from labstream.governance.service import Governance

        if (tls_cert is None) != (tls_key is None):
            typer.echo("error: give both --tls-cert and --tls-key, or neither", err=True)
            raise typer.Exit(2)
        settings = Settings()
        gov = Governance.open(settings)
        executor = RunExecutor(gov, site=site) if runs else None
        if executor is not None:
            executor.start()
        threading.Thread(target=_warm_metrics, args=(settings,), name="metrics-warm-up", daemon=True).start()
        try:
            uvicorn.run(
                create_app(settings, gov=gov),
                host=host,
                port=port,
                log_level="info",
                ssl_certfile=str(tls_cert) if tls_cert else None,
                ssl_keyfile=str(tls_key) if tls_key else None,
                **uvicorn_limits(),  # type: ignore[arg-type]
            )
        finally:
            if executor is not None:
                executor.stop()
            gov.close()


def _warm_metrics(settings: object) -> None:
    """`/metrics` folds the lineage history once, before Prometheus' first scrape needs it."""
    from labstream.ops.metrics import warm_up

    try:
        warm_up(settings)  # type: ignore[arg-type]
    except Exception:  # the first scrape folds it then; serving never depends on this
        logging.getLogger(__name__).exception("metrics warm-up failed")
