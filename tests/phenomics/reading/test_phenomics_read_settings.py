"""The four read settings (layout, name_pattern, channels, projection) are declared once, in ReadOptions:
the pipeline's settings and `phenomics profile`'s options take their defaults and help from there."""

from __future__ import annotations

import inspect

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from labstream.cli.main import app
from labstream.cli.phenomics import profile
from labstream.core.errors import ConfigError
from labstream.phenomics.contract import PhenomicsSettings, build
from labstream.phenomics.read_settings import ReadOptions
from labstream.phenomics.stages.routing import read_options

READ = list(ReadOptions.model_fields)


def test_settings_and_cli_options_are_the_declared_ones() -> None:
    assert READ == ["layout", "name_pattern", "channels", "projection"]
    fields = PhenomicsSettings.model_fields
    assert list(fields)[-4:] == READ  # after the plate settings, as `pipelines show` lists them
    options = inspect.signature(profile).parameters
    for name, declared in ReadOptions.model_fields.items():
        assert (fields[name].default, fields[name].description) == (declared.default, declared.description)
        option = options[name].default
        assert (option.default, option.help) == (declared.default, declared.description)
        assert option.param_decls == ("--" + name.replace("_", "-"),)


def test_the_route_stage_reads_what_the_settings_say() -> None:
    settings = PhenomicsSettings(channels="DNA=w1,ER=w2,RNA=w3,AGP=w4,Mito=w5", projection="mean")
    route = build(settings, "ingest.files").stages[0]
    assert read_options(route.params) == ReadOptions(channels=settings.channels, projection="mean")
    assert "layout" not in route.params  # a setting left unset stays out of the params, as before
    assert read_options(build(PhenomicsSettings(), "ingest.files").stages[0].params) == ReadOptions()


def test_a_bad_setting_is_refused_in_each_face() -> None:
    with pytest.raises(ConfigError, match="projection 'median' is unknown"):
        ReadOptions(projection="median")
    with pytest.raises(ValidationError, match="names stain DNA twice"):
        PhenomicsSettings(channels="DNA=w1,DNA=w2")
    with pytest.raises(ValidationError, match="needs a name_pattern"):
        PhenomicsSettings(layout="pattern")
    args = ["--images", ".", "--platemap", "p.csv", "--out", "o", "--projection", "median"]
    res = CliRunner().invoke(app, ["phenomics", "profile", *args])
    assert res.exit_code == 2 and "projection 'median' is unknown" in res.output
