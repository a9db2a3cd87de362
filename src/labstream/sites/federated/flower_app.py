"""The Flower app (Message API) run by the deployment engine: SuperLink + one SuperNode per site.

ClientApp (at each site): reads the site's own training table from the site's lake (node config
`lake`, `table`), and answers two kinds of train message: phase "moments" returns the site's feature
mean and mean square (FedAvg's weighted average of them is the global moments), phase "train" runs
local gradient descent from the global model (differentially private when the run config's `dp_noise`
is above 0: per-example clipping to `dp_clip` and Gaussian noise; the server reports (epsilon,
`dp_delta`) for the training steps). Only model arrays and counts leave the site; the moments round
is not noised, so the reported epsilon covers training, not the standardisation.

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
from labstream.sites.federated.data import read_site_table

__all__ = ["client", "server"]

client = ClientApp()
server = ServerApp()


@client.train()
def _train(msg: Message, context: Context) -> Message:
    x, y, version = read_site_table(str(context.node_config["lake"]), str(context.node_config["table"]))
    params = msg.content["arrays"].to_numpy_ndarrays()
    cfg = msg.content["config"]
    if cfg["phase"] == "moments":
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
    sites, rounds = int(rc["sites"]), int(rc["rounds"])
    test = np.load(str(rc["test"]))
    x_test, y_test = test["x"], test["y"]
    strategy = _RecordingFedAvg(fraction_evaluate=0.0, min_train_nodes=sites, min_available_nodes=sites)
    d = x_test.shape[1]
    t0 = time.time()
    moments = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord([np.zeros(d), np.zeros(d)]),
        num_rounds=1,
        train_config=ConfigRecord({"phase": "moments"}),
    )
    mean, mean_sq = moments.arrays.to_numpy_ndarrays()
    strategy.offset = 1
    init = [np.zeros(d), np.zeros(1), mean, logreg.sigma_from(mean, mean_sq)]

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
    dp = float(rc["dp_noise"])
    privacy = (
        {
            "noise_multiplier": dp,
            "clip": float(rc["dp_clip"]),
            "delta": float(rc["dp_delta"]),
            "epsilon": logreg.epsilon_for(rounds * int(rc["epochs"]), dp, float(rc["dp_delta"])),
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
