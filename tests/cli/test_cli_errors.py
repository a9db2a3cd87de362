"""Every user mistake is one red `error: ...` line and exit code 2, never a traceback (issue 11);
LABSTREAM_DEBUG=1 gives the traceback back."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.core.errors import ConfigError


def run(args: list[str], **env: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, args, env=env or None)


def one_error_line(res, *expected: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "╭" not in res.output, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, res.output
    for text in expected:
        assert text in lines[0], res.output


@pytest.fixture
def fake_inputs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "ref.fa").write_text(">c1\nACGT\n")
    (tmp_path / "r1.fq").write_text("@r\nACGT\n+\nIIII\n")
    return {"reference": str(tmp_path / "ref.fa"), "reads": str(tmp_path / "r1.fq")}


def genomics_call(inputs: dict[str, str], out: Path, *extra: str) -> list[str]:
    return [
        "genomics", "call", "--reference", inputs["reference"], "--reads", inputs["reads"],
        "--out", str(out), "--no-lake", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("sample", ["../../escape", "/tmp/abs", "a/b", ".hidden", "-rf", "x" * 200, ""])
def test_sample_names_are_identifiers(tmp_path: Path, fake_inputs, sample: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "deep" / "er" / "out"
    res = run(genomics_call(fake_inputs, out, "--sample", sample))
    one_error_line(res, "sample name", "not a valid identifier")
    assert not (tmp_path / "escape").exists() and not out.exists()  # nothing written anywhere


def test_unknown_aligner_is_one_line(tmp_path: Path, fake_inputs) -> None:  # type: ignore[no-untyped-def]
    res = run(genomics_call(fake_inputs, tmp_path / "out", "--sample", "S1", "--aligner", "bowtie"))
    one_error_line(res, "unknown aligner 'bowtie'", "minimap2, bwa")
    res = run(genomics_call(fake_inputs, tmp_path / "out", "--sample", "S1", "--caller", "gatk"))
    one_error_line(res, "unknown caller 'gatk'")


def test_unknown_pipeline_and_unreachable_executor_are_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    one_error_line(run(["watch", str(folder), "--pipeline", "phenomic", "--idle-exit", "1"]), "phenomic")
    res = run(
        ["watch", str(folder), "--idle-exit", "1"], LABSTREAM_EXECUTOR_URL="dask://127.0.0.1:1?timeout=1"
    )
    one_error_line(res, "cannot reach the Dask scheduler at tcp://127.0.0.1:1")


def test_unknown_format_is_one_line() -> None:
    res = run(["sql", "SELECT 1", "--format", "xml"])
    assert res.exit_code == 2 and "Traceback" not in res.output and "xml" in res.output


def test_debug_gives_the_traceback_back(tmp_path: Path, fake_inputs) -> None:  # type: ignore[no-untyped-def]
    res = run(
        genomics_call(fake_inputs, tmp_path / "out", "--sample", "S1", "--aligner", "bowtie"),
        LABSTREAM_DEBUG="1",
    )
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)


def test_a_mistyped_command_is_suggested_once() -> None:
    """Typer and click both append "Did you mean ...?": the suggestion is said once, not twice."""
    from typer.testing import CliRunner

    from labstream.cli.main import app

    result = CliRunner().invoke(app, ["genomics", "cal"])
    assert result.exit_code == 2
    assert result.output.count("Did you mean") == 1, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["watch", ".", "--pipline", "genomics"], "Did you mean '--pipeline'?"),
        (["sites", "list"], "No such command 'list'"),
        (["phenomics", "profile"], "Missing option '--images'"),
        (["genomics", "call", "--reference"], "requires an argument"),
    ],
)
def test_a_typo_in_a_command_or_option_is_one_line(args: list[str], expected: str) -> None:
    res = run(args)
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert expected in lines[0] and "╭" not in res.output, res.output
