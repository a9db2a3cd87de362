"""Run parameters name data objects by id; the executor gets private plaintext copies, never a path
a caller chose (issue 11: `{"platemap": "<another project's file>"}` was read by the server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import AccessDenied
from labstream.core.settings import Settings
from labstream.governance.objects import register_file
from labstream.governance.run_params import ParamNotAllowed, resolved_params
from labstream.governance.service import Governance


def test_object_ids_resolve_to_private_copies_and_paths_are_refused(tmp_path: Path) -> None:
    gov = Governance.open(Settings(home=tmp_path / "home"))
    gov.directory.add_project("alpha")
    gov.directory.add_project("beta")
    mine, theirs = tmp_path / "mine.csv", tmp_path / "theirs.csv"
    mine.write_text("well,perturbation\nA01,DMSO\n")
    theirs.write_text("well,perturbation\nA01,SECRET-COMPOUND\n")
    own = register_file(gov, mine, project="alpha", kind="raw")
    other = register_file(gov, theirs, project="beta", kind="raw")
    with resolved_params(gov, "alpha", {"platemap": own.id, "sites_per_well": 2}) as kw:
        local = Path(kw["platemap"])
        assert local.read_text() == mine.read_text() and kw["sites_per_well"] == 2
        assert local != mine and local.name == "mine.csv"
    assert not local.exists()  # the scratch copy goes with the run
    with pytest.raises(AccessDenied, match="not in project 'alpha'"):
        with resolved_params(gov, "alpha", {"platemap": other.id}):
            pass
    for value in (str(theirs), "theirs.csv", f"file://{theirs}"):
        with pytest.raises(ParamNotAllowed, match="server path"):
            with resolved_params(gov, "alpha", {"platemap": value}):
                pass
    gov.close()
