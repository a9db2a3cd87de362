"""Federated training across three sites with Flower's deployment engine (SuperLink + 3 SuperNodes as
processes on 127.0.0.1), under secure aggregation (SecAgg+), and with differential privacy. Real data
the project did not design: the Wisconsin breast-cancer set that scikit-learn ships, split non-IID
across the sites by tumour radius (one site mostly benign, one mostly malignant), each site's rows in
its own Delta lake. The federated model must come within 2% of the same model trained on the pooled
rows, and no row may cross a site's boundary."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fl_bounds import public_bounds
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.lake.delta import Lake
from labstream.models import open_registry
from labstream.sites.federated import FederatedSite, logreg, run_federation, write_site_table
from labstream.sites.federated.model_files import FLAVOR, unpack, write_model_files


def _three_sites(tmp_path):  # type: ignore[no-untyped-def]
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    parts = np.array_split(np.argsort(x_train[:, 0]), 3)
    sites = []
    for k, idx in enumerate(parts):
        lake = str(tmp_path / f"site{k}" / "lake")
        write_site_table(lake, "training_rows", x_train[idx], y_train[idx], f"site{k}")
        sites.append(FederatedSite(f"site{k}", lake))
    return x_train, x_test, y_train, y_test, parts, sites


def _federate(sites, tmp_path: Path, **options):  # type: ignore[no-untyped-def]
    """One training round of 30 local epochs after the moments round, the moments scaled by the data
    set's public bounds."""
    lo, hi = public_bounds()
    np.savez(tmp_path / "bounds.npz", lo=lo, hi=hi)
    return run_federation(
        sites,
        workdir=tmp_path / "run",
        test_npz=tmp_path / "test.npz",
        rounds=1,
        epochs=30,
        lr=0.5,
        bounds_npz=tmp_path / "bounds.npz",
        **options,
    )


@pytest.mark.slow
def test_three_sites_approach_the_pooled_model_and_keep_their_rows(tmp_path, model_registry_url) -> None:  # type: ignore[no-untyped-def]
    x_train, x_test, y_train, y_test, parts, sites = _three_sites(tmp_path)
    assert max(y_train[p].mean() for p in parts) - min(y_train[p].mean() for p in parts) > 0.5  # non-IID

    pooled = logreg.fit_pooled(x_train, y_train, epochs=300, lr=0.5)
    pooled_acc = logreg.accuracy(pooled, x_test, y_test)
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0)
    sk = LogisticRegression(max_iter=5000).fit((x_train - mu) / sd, y_train)
    sk_acc = float((sk.predict((x_test - mu) / sd) == y_test).mean())
    assert abs(pooled_acc - sk_acc) <= 0.02  # the pooled baseline is a sound logistic regression

    lo, hi = public_bounds()  # SecAgg+ sums values in [-8, 8]: the moments go scaled by public bounds
    res = _federate(sites, tmp_path, record_traffic=True, secure=True, timeout=480)
    # SecAgg+: the server's strategy was handed one vector per round, the aggregate, never a site's
    assert res.distinct_vectors_seen == {1: 1, 2: 1}
    fed_acc = res.accuracy[res.rounds]
    assert res.accuracy[0] < 0.7 < fed_acc  # it learned, from an uninformed start
    assert abs(fed_acc - pooled_acc) <= 0.02, (fed_acc, pooled_acc)
    final = [np.asarray(a) for a in np.load(res.model_path).values()]
    assert logreg.accuracy(final, x_test, y_test) == pytest.approx(fed_acc)
    # the moments came through the secure sum exactly but for SecAgg+'s quantization (2^22 levels)
    assert np.max(np.abs(final[2] - x_train.mean(axis=0)) / (hi - lo)) < 1e-4

    for k, idx in enumerate(parts):  # per-site training lineage: every round, every site, its own table
        mine = [e for e in res.lineage if e["site"] == f"site{k}"]
        assert [e["round"] for e in mine] == list(range(1, res.rounds + 2))  # + the moments round
        assert {(e["lake"], e["table"], e["rows"], e["table_version"]) for e in mine} == {
            (sites[k].lake, "training_rows", len(idx), Lake(sites[k].lake).version("training_rows"))
        }
    for k, idx in enumerate(parts):  # what crossed site k's boundary holds no row of site k
        seen = res.traffic[f"site{k}"]
        assert b"training_rows" in seen  # the recording holds the lineage metrics in the clear
        own = logreg.local_train(
            [np.zeros(30), np.zeros(1), final[2], final[3]], x_train[idx], y_train[idx], epochs=30, lr=0.5
        )
        assert own[0][0].astype("<f8").tobytes() not in seen  # its own update went masked
        for i, row in enumerate(x_train[idx]):
            assert f"site{k}-row-{i:05d}".encode() not in seen
            assert row[:3].astype("<f8").tobytes() not in seen

    # registered like any model, with the per-site training lineage as its training data
    weights, manifest = write_model_files(
        res,
        tmp_path / "model",
        test_x=x_test[:16],
        metrics={"held-out": {"accuracy": fed_acc, "pooled_accuracy": pooled_acc}},
        params={"epochs": 30, "lr": 0.5, "sites": len(sites)},
    )
    out = CliRunner().invoke(
        app, ["models", "register", "fl-logreg", "--weights", str(weights), "--manifest", str(manifest)]
    )
    assert out.exit_code == 0, out.output
    checked = CliRunner().invoke(app, ["models", "verify", "fl-logreg"])
    assert checked.exit_code == 0 and "fl-logreg/1" in checked.output, checked.output
    mv = open_registry(model_registry_url).get("fl-logreg", 1)
    assert mv.flavor == FLAVOR and mv.metrics["held-out"]["accuracy"] == fed_acc
    assert {(e["site"], e["table_version"], e["rows"]) for e in mv.training_data} == {
        (f"site{k}", Lake(sites[k].lake).version("training_rows"), len(idx)) for k, idx in enumerate(parts)
    }
    assert all(e["rounds"] == list(range(1, res.rounds + 2)) for e in mv.training_data)
    stored = unpack(np.load(io.BytesIO(open_registry(model_registry_url).weights(mv))))
    assert logreg.accuracy(stored, x_test, y_test) == pytest.approx(fed_acc)
    print(
        f"\nfederated, SecAgg+: {res.rounds} rounds (+1 of moments) in {res.seconds:.1f} s, accuracy "
        f"by round { {r: round(a, 4) for r, a in res.accuracy.items()} }, pooled {pooled_acc:.4f} "
        f"(scikit-learn {sk_acc:.4f}), bytes across each site's boundary {res.bytes_by_site}"
    )


@pytest.mark.slow
def test_differential_privacy_through_flower_covers_the_moments_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """DP run through the deployment engine, small: one training round of 30 noised steps (z = 8) after
    a noised moments round (z = 2, public bounds from the data set's documentation)."""
    x_train, x_test, y_train, y_test, _, sites = _three_sites(tmp_path)
    lo, hi = public_bounds()
    res = _federate(sites, tmp_path, dp_noise=8.0, dp_clip=1.0, dp_moments_noise=2.0, timeout=240)
    p = res.privacy
    assert p is not None and p["steps"] == 30 and p["moments_noise_multiplier"] == 2.0
    assert p["epsilon"] == pytest.approx(logreg.epsilon_for(30, 8.0, 1e-5, moments_noise=2.0))
    assert p["epsilon"] > p["epsilon_training_only"]
    final = [np.asarray(a) for a in np.load(res.model_path).values()]
    err = np.abs(final[2] - x_train.mean(axis=0)) / (hi - lo)  # the moments the server got were noised
    assert err.max() > 1e-6 and err.max() < 6 * 2.0 * np.sqrt(60) / len(x_train) * np.sqrt(3)
    pooled = logreg.accuracy(logreg.fit_pooled(x_train, y_train, epochs=300, lr=0.5), x_test, y_test)
    acc = res.accuracy[1]
    assert acc >= pooled - 0.1, (acc, pooled)
    print(
        f"\nfederated DP: epsilon {p['epsilon']:.2f} (training alone {p['epsilon_training_only']:.2f}), "
        f"delta {p['delta']}, accuracy {acc:.4f} vs pooled {pooled:.4f}, {res.seconds:.1f} s, "
        f"bytes {res.bytes_by_site}"
    )
