"""schemathesis against /openapi.json, for each role: 0 server errors, 0 response-schema violations.

Driven through schemathesis' Python API with Hypothesis directly (its pytest plugin does not run under
pytest 9 here). Bounded: a few examples per operation, each sent as every role."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from conftest import World, auth

ROLES = ("viewer_alpha", "scientist_alpha", "operator_alpha", "admin_alpha", "nobody", None)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.slow
def test_openapi_contract_per_role(app, world: World, with_cohort) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 30
    calls = {"n": 0}
    for op in operations:

        @settings(
            max_examples=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case) -> None:
            for user in ROLES:
                case.call_and_validate(headers=auth(world, user) if user else {}, checks=CHECKS)
                calls["n"] += 1

        run()
    assert calls["n"] >= len(operations) * len(ROLES)
