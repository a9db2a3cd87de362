"""The Flower app (Message API) run by the deployment engine: SuperLink + one SuperNode per site.

ClientApp (at each site): reads the site's own training table from the site's lake (node config
`lake`, `table`), and answers two kinds of train message: phase "moments" returns the site's feature
mean and mean square (FedAvg's weighted average of them is the global moments), phase "train" runs
local gradient descent from the global model (differentially private when the run config's `dp_noise`
is above 0: per-example clipping to `dp_clip` and Gaussian noise). With DP on, the moments round is a
Gaussian mechanism too (`dp_moments_noise`, on features clamped to public bounds that the server sends
down: `bounds`), and the server reports one (epsilon, `dp_delta`) covering both, everything a site
sends. Only model arrays and counts leave the site.

ServerApp: FedAvg over all sites, first one round of moments, then `rounds` rounds of training; writes
the final model, per-round accuracy on the held-out set and per-site counts to `out` (run config).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from labstream.sites.federated import logreg
from labstream.sites.federated.data import load_bounds, read_site_table, run_inputs

__all__ = ["client", "server"]

client = ClientApp()
server = ServerApp()


@client.train()
def _train(msg: Message, context: Context) -> Message:
    x, y, version = read_site_table(str(context.node_config["lake"]), str(context.node_config["table"]))
    params = msg.content["arrays"].to_numpy_ndarrays()
    cfg = msg.content["config"]
    if cfg["phase"] == "moments" and float(cfg["dp_moments_noise"]) > 0:  # params: public bounds
        lo, hi = params
        z = float(cfg["dp_moments_noise"])
        out, loss = logreg.local_moments_dp(x, lo, hi, noise_multiplier=z, rng=np.random.default_rng()), 0.0
    elif cfg["phase"] == "moments":
        out, loss = logreg.local_moments(x), 0.0
    elif float(cfg["dp_noise"]) > 0:  # a fresh seed per message: the noise must not repeat
        rng = np.random.default_rng()
        out, loss = (
            logreg.local_train_dp(
                params,
                x,
                y,
                epochs=int(cfg["epochs"]),
                lr=float(cfg["lr"]),
                clip=float(cfg["dp_clip"]),
                noise_multiplier=float(cfg["dp_noise"]),
                rng=rng,
            ),
            0.0,
        )
    else:
        out, loss = logreg.local_train(params, x, y, epochs=int(cfg["epochs"]), lr=float(cfg["lr"]))
    metrics = MetricRecord({"num-examples": len(y), "loss": loss, "table-version": version})
    lineage = ConfigRecord(  # what this site trained on: its per-site training lineage
        {
            "site": str(context.node_config["site"]),
            "lake": str(context.node_config["lake"]),
            "table": str(context.node_config["table"]),
            "table_version": version,
            "rows": len(y),
            "phase": str(cfg["phase"]),
        }
    )
    content = RecordDict({"arrays": ArrayRecord(out), "metrics": metrics, "lineage": lineage})
    return Message(content, reply_to=msg)


class _RecordingFedAvg(FedAvg):
    """FedAvg that keeps each site's reply lineage per round (the model's per-site training lineage)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.lineage: list[dict[str, Any]] = []
        self.offset = 0  # rounds of an earlier start() of the same run (the moments round)

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> Any:
        replies = list(replies)
        for m in replies:
            if not m.has_error() and "lineage" in m.content:
                self.lineage.append({"round": self.offset + server_round, **dict(m.content["lineage"])})
        return super().aggregate_train(server_round, replies)


@server.main()
def _main(grid: Grid, context: Context) -> None:
    rc = context.run_config
    sites, rounds, x_test, y_test = run_inputs(rc)
    strategy = _RecordingFedAvg(fraction_evaluate=0.0, min_train_nodes=sites, min_available_nodes=sites)
    d = x_test.shape[1]
    dp, dp_moments = float(rc["dp_noise"]), float(rc["dp_moments_noise"]) if float(rc["dp_noise"]) else 0.0
    bounds = load_bounds(str(rc["bounds"]), d) if dp_moments else [np.zeros(d), np.zeros(d)]
    t0 = time.time()
    moments = strategy.start(  # with DP, the public bounds go down and noised moments come back
        grid=grid,
        initial_arrays=ArrayRecord(bounds),
        num_rounds=1,
        train_config=ConfigRecord({"phase": "moments", "dp_moments_noise": dp_moments}),
    )
    mean, mean_sq = moments.arrays.to_numpy_ndarrays()
    strategy.offset = 1
    sigma = logreg.sigma_from(mean, mean_sq)
    if dp_moments:  # noise can make a variance tiny or negative: floor it (post-processing)
        sigma = np.maximum(sigma, (bounds[1] - bounds[0]) / 10)
    init = [np.zeros(d), np.zeros(1), mean, sigma]

    def evaluate(rnd: int, arrays: ArrayRecord) -> MetricRecord:
        return MetricRecord({"accuracy": logreg.accuracy(arrays.to_numpy_ndarrays(), x_test, y_test)})

    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(init),
        num_rounds=rounds,
        train_config=ConfigRecord(
            {
                "phase": "train",
                "epochs": int(rc["epochs"]),
                "lr": float(rc["lr"]),
                "dp_noise": float(rc["dp_noise"]),
                "dp_clip": float(rc["dp_clip"]),
            }
        ),
        evaluate_fn=evaluate,
    )
    out = Path(str(rc["out"]))
    final = result.arrays.to_numpy_ndarrays()
    np.savez(out.with_suffix(".npz"), *final)
    per_round = {int(r): float(m["accuracy"]) for r, m in result.evaluate_metrics_serverapp.items()}
    train = {int(r): dict(m) for r, m in result.train_metrics_clientapp.items()}
    steps, delta = rounds * int(rc["epochs"]), float(rc["dp_delta"])
    privacy = (
        {
            "noise_multiplier": dp,
            "moments_noise_multiplier": dp_moments,
            "clip": float(rc["dp_clip"]),
            "delta": delta,
            "steps": steps,
            # everything a site sends: its training steps and its moments
            "epsilon": logreg.epsilon_for(steps, dp, delta, moments_noise=dp_moments or None),
            "epsilon_training_only": logreg.epsilon_for(steps, dp, delta),
        }
        if dp
        else None
    )
    out.write_text(
        json.dumps(
            {
                "rounds": rounds,
                "seconds": time.time() - t0,
                "accuracy": per_round,
                "train_metrics": train,
                "privacy": privacy,
                "lineage": strategy.lineage,
            }
        )
    )
