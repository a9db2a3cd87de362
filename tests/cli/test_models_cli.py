"""`labstream models` through the CLI: register, promote (gate), refuse, rollback, verify, audit records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.genomics.learned_features import FEATURES
from labstream.genomics.learned_model import FORMAT, VariantModel, output_digest


def _version(tmp: Path, seed: int, metrics: dict) -> list[str]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, len(FEATURES)))
    model = VariantModel.fit(x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1), seed=seed, max_iter=5)
    d = tmp / f"v{seed}"
    d.mkdir()
    (d / "weights.bin").write_bytes(model.to_bytes())
    np.save(d / "test.npy", x[:10], allow_pickle=False)
    manifest = {
        "flavor": FORMAT,
        "code_version": "tests",
        "training_data": [{"seed": seed}],
        "metrics": metrics,
        "test_input": "test.npy",
        "test_output_sha256": output_digest(model.predict_proba(x[:10])),
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    return [
        "models",
        "register",
        "caller",
        "--weights",
        str(d / "weights.bin"),
        "--manifest",
        str(d / "manifest.json"),
    ]


def test_promotion_refusal_rollback_and_verify_through_the_cli(model_registry_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = CliRunner().invoke
    for seed, f1 in ((1, 0.99), (2, 0.97), (3, 0.995)):
        res = run(app, _version(tmp_path, seed, {"heldout": {"snp_f1": f1, "indel_f1": f1}}))
        assert res.exit_code == 0, res.output
        assert res.output.startswith(f"registered caller/{seed}@sha256:")
    assert run(app, ["models", "promote", "caller/1", "--actor", "alice"]).exit_code == 0
    worse = run(app, ["models", "promote", "caller/2", "--actor", "bob"])
    assert worse.exit_code == 2 and "not promoted" in worse.output and "Traceback" not in worse.output
    assert run(app, ["models", "promote", "caller/3", "--actor", "carol"]).exit_code == 0
    shown = json.loads(run(app, ["models", "show", "caller@champion"]).output)
    assert shown["version"] == 3 and [d["outcome"] for d in shown["decisions"]] == [
        "promoted",
        "refused",
        "promoted",
    ]
    back = run(app, ["models", "rollback", "caller", "--actor", "dave", "--reason", "regression"])
    assert back.exit_code == 0 and "back to caller/1" in back.output
    assert "caller/1@sha256" in run(app, ["models", "list"]).output.split("[champion]")[0].splitlines()[-1]
    ok = run(app, ["models", "verify"])
    assert ok.exit_code == 0 and ok.output.count("ok caller/") == 3
    audit = run(app, ["audit", "show", "--action", "models.refused"])
    assert "bob models.refused model:caller@champion" in audit.output
    rolled = run(app, ["audit", "show", "--action", "models.rolled-back"]).output
    assert "dave" in rolled and "regression" in rolled
    # tamper with one version's weights: verify names it and fails
    blobs = Path(model_registry_url.removeprefix("sqlite:///") + ".blobs")
    weights = json.loads(run(app, ["models", "show", "caller/2"]).output)["sha256"]
    target = blobs / "sha256" / weights[:2] / weights
    target.write_bytes(target.read_bytes() + b"x")
    bad = run(app, ["models", "verify"])
    assert bad.exit_code == 1 and "FAILED caller/2" in bad.output and bad.output.count("ok caller/") == 2


def test_pin_gives_a_run_the_weights_it_keeps_whatever_is_promoted(model_registry_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from labstream.core.errors import InputError, IntegrityError
    from labstream.genomics.learned import pinned_caller
    from labstream.pipelines import get_contract

    run = CliRunner().invoke
    for seed in (1, 2):
        assert run(app, _version(tmp_path, seed, {"s": {"snp_f1": 0.9 + seed / 100}})).exit_code == 0
    assert run(app, ["models", "promote", "caller/1", "--actor", "a"]).exit_code == 0
    out = run(app, ["models", "pin", "caller@champion"])
    assert out.exit_code == 0, out.output
    pin = dict(line.split(" = ", 1) for line in out.output.splitlines())
    pin = {k: v.strip('"') for k, v in pin.items()}
    assert pin["model_tag"].startswith("caller/1@sha256:")
    assert run(app, ["models", "promote", "caller/2", "--actor", "a"]).exit_code == 0  # later promotion
    ref = tmp_path / "ref.fa"
    ref.write_text(">c\nACGT\n")
    stages = get_contract("genomics").pipeline({"reference": str(ref), **pin}).stages
    params = next(s for s in stages if s.name == "gx_call").params["model"]
    assert params == {"weights": pin["model_weights"], "sha256": pin["model_sha256"], "tag": pin["model_tag"]}
    caller = pinned_caller(params["weights"], params["sha256"], params["tag"])
    assert str(caller.tag) == pin["model_tag"]  # still version 1: the run was pinned before
    with pytest.raises(InputError):
        pinned_caller(params["weights"], params["sha256"], "caller/2@sha256:" + "0" * 64)
    Path(params["weights"]).write_bytes(Path(params["weights"]).read_bytes()[:-1])
    with pytest.raises(IntegrityError):
        pinned_caller(params["weights"], params["sha256"], params["tag"])
