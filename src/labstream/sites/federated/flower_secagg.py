"""The federation under secure aggregation (SecAgg+): Flower's legacy workflow API, the one SecAgg+
works with in flwr 1.32 (`SecAggPlusWorkflow` needs a `LegacyContext` and drives the legacy Strategy's
`configure_fit` / `aggregate_fit`; `secaggplus_mod` needs a FitRes-shaped reply: a NumPyClient's fit).

The server learns only sums: each site uploads its vector masked (pairwise masks that cancel in the sum,
private masks unmasked only for the sum), quantized into [-clipping_range, clipping_range]. So every
uploaded value must be small: the moments round sends the mean and mean square of the features scaled
to [0, 1] by public per-feature bounds the server sends down, and training rounds send only [w, b]
(the standardisation goes down in the config, never up). Per-site lineage still reaches the server as
fit metrics (the mod clears only the arrays).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.common import Context, ndarrays_to_parameters
from flwr.server import LegacyContext, ServerApp, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

from labstream.sites.federated import logreg
from labstream.sites.federated.data import load_bounds, read_site_table, run_inputs

__all__ = ["client", "server"]


def _npy(arrays: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.stack(arrays), allow_pickle=False)
    return buf.getvalue()


class _Site(NumPyClient):
    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        x, y, version = read_site_table(str(self.node["lake"]), str(self.node["table"]))
        if config["phase"] == "moments":  # parameters: the public bounds
            lo, hi = parameters
            u = (np.clip(x, lo, hi) - lo) / np.maximum(hi - lo, 1e-12)
            out = [u.mean(axis=0), (u * u).mean(axis=0)]
        else:
            mu, sigma = np.load(io.BytesIO(config["standardise"]), allow_pickle=False)
            w, b = parameters
            new, _ = logreg.local_train(
                [w, b, mu, sigma], x, y, epochs=int(config["epochs"]), lr=float(config["lr"])
            )
            out = new[:2]
        lineage = {
            "site": str(self.node["site"]),
            "lake": str(self.node["lake"]),
            "table": str(self.node["table"]),
            "table_version": int(version),
            "rows": len(y),
            "phase": str(config["phase"]),
        }
        return out, len(y), lineage


def _client_fn(context: Context) -> Any:
    return _Site(dict(context.node_config)).to_client()


client = ClientApp(client_fn=_client_fn, mods=[secaggplus_mod])
server = ServerApp()


class _SeenFedAvg(FedAvg):
    """FedAvg that records, per round, the sites' lineage and how many distinct parameter vectors the
    strategy was handed (SecAgg+ hands it the aggregate only: 1)."""

    def __init__(self, offset: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.offset = offset
        self.lineage: list[dict[str, Any]] = []
        self.distinct: dict[int, int] = {}

    def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
        rnd = self.offset + server_round
        self.lineage += [{"round": rnd, **dict(res.metrics)} for _, res in results]
        vecs = {b"".join(res.parameters.tensors) for _, res in results}
        self.distinct[rnd] = len(vecs)
        return super().aggregate_fit(server_round, results, failures)


def _run(grid: Any, context: Context, strategy: _SeenFedAvg, rounds: int, sites: int) -> list[np.ndarray]:
    lc = LegacyContext(context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy)
    secagg = SecAggPlusWorkflow(num_shares=sites, reconstruction_threshold=sites - 1, clipping_range=8.0)
    DefaultWorkflow(fit_workflow=secagg)(grid, lc)
    return lc.state.array_records["parameters"].to_numpy_ndarrays()


@server.main()
def _main(grid: Any, context: Context) -> None:
    rc = context.run_config
    sites, rounds, x_test, y_test = run_inputs(rc)
    lo, hi = load_bounds(str(rc["bounds"]), x_test.shape[1])
    common = {"fraction_fit": 1.0, "fraction_evaluate": 0.0, "min_fit_clients": sites}
    t0 = time.time()
    first = _SeenFedAvg(
        0,
        **common,
        min_available_clients=sites,
        initial_parameters=ndarrays_to_parameters([lo, hi]),
        on_fit_config_fn=lambda r: {"phase": "moments"},
    )
    mean_u, mean_u2 = _run(grid, context, first, 1, sites)
    span = hi - lo
    mean = lo + span * mean_u
    sigma = span * np.sqrt(np.maximum(mean_u2 - mean_u * mean_u, 1e-12))
    d = len(lo)
    accuracy: dict[int, float] = {}

    def evaluate(rnd: int, arrays: Any, config: Any) -> Any:
        w, bias = arrays
        accuracy[rnd] = logreg.accuracy([w, bias, mean, sigma], x_test, y_test)
        return 0.0, {"accuracy": accuracy[rnd]}

    second = _SeenFedAvg(
        1,
        **common,
        min_available_clients=sites,
        initial_parameters=ndarrays_to_parameters([np.zeros(d), np.zeros(1)]),
        on_fit_config_fn=lambda r: {
            "phase": "train",
            "epochs": int(rc["epochs"]),
            "lr": float(rc["lr"]),
            "standardise": _npy([mean, sigma]),
        },
        evaluate_fn=evaluate,
    )
    w, bias = _run(grid, context, second, rounds, sites)
    out = Path(str(rc["out"]))
    np.savez(out.with_suffix(".npz"), w, bias, mean, sigma)
    out.write_text(
        json.dumps(
            {
                "rounds": rounds,
                "seconds": time.time() - t0,
                "accuracy": accuracy,
                "train_metrics": {},
                "privacy": None,
                "lineage": first.lineage + second.lineage,
                "distinct_vectors_seen": {**first.distinct, **second.distinct},
            }
        )
    )
