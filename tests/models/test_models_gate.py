"""The promotion gate: a worse challenger is refused, a better one promoted, rollback restores; every
decision is recorded with its numbers and its actor."""

from __future__ import annotations

import pytest

from labstream.models import PromotionRefused, RegistryError
from labstream.models.gate import promote, rollback


def test_gate_refuses_worse_promotes_better_and_rolls_back(registry, add_version) -> None:  # type: ignore[no-untyped-def]
    audit: list[tuple[str, str, dict]] = []  # type: ignore[type-arg]

    def record(actor: str, action: str, detail: dict) -> None:  # type: ignore[type-arg]
        audit.append((actor, action, detail))

    add_version(registry, "caller", 1, {"heldout": {"snp_f1": 0.990, "indel_f1": 0.980}})
    add_version(registry, "caller", 2, {"heldout": {"snp_f1": 0.995, "indel_f1": 0.970}})  # worse indels
    add_version(registry, "caller", 3, {"heldout": {"snp_f1": 0.995, "indel_f1": 0.985}})
    add_version(registry, "caller", 4, {"other-set": {"snp_f1": 1.0, "indel_f1": 1.0}})
    promote(registry, "caller", 1, actor="alice", audit=record)
    with pytest.raises(PromotionRefused, match="worse on"):
        promote(registry, "caller", 2, actor="bob", audit=record)
    with pytest.raises(PromotionRefused, match="missing sets"):
        promote(registry, "caller", 4, actor="bob", audit=record)
    assert registry.by_alias("caller", "champion").version == 1
    d = promote(registry, "caller", 3, actor="carol", reason="better indels", audit=record)
    assert (d.champion, d.challenger, d.outcome) == (1, 3, "promoted")
    assert d.comparison["sets"]["heldout.indel_f1"] == {"champion": 0.98, "challenger": 0.985}
    assert registry.by_alias("caller", "champion").version == 3
    r = rollback(registry, "caller", actor="dave", reason="bad calls in clinic", audit=record)
    assert (r.challenger, r.champion) == (1, 3)
    assert registry.by_alias("caller", "champion").version == 1
    with pytest.raises(RegistryError, match="no earlier version"):
        rollback(registry, "caller", actor="dave")
    outcomes = [(d.challenger, d.outcome, d.actor) for d in registry.decisions("caller")]
    assert outcomes == [
        (1, "promoted", "alice"),
        (2, "refused", "bob"),
        (4, "refused", "bob"),
        (3, "promoted", "carol"),
        (1, "rolled-back", "dave"),
    ]
    refused = registry.decisions("caller")[1].comparison
    assert refused["worse"] == ["heldout.indel_f1"]
    assert [a[1] for a in audit] == [
        "models.promoted",
        "models.refused",
        "models.refused",
        "models.promoted",
        "models.rolled-back",
    ]


def test_a_challenger_that_does_not_reproduce_its_output_is_refused(registry, add_version) -> None:  # type: ignore[no-untyped-def]
    v = add_version(registry, "caller", 1, {"heldout": {"snp_f1": 0.9, "indel_f1": 0.9}})
    path = registry.blobs.path(v.sha256)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(PromotionRefused, match="sha256"):
        promote(registry, "caller", 1, actor="alice")
    assert registry.by_alias("caller", "champion") is None
    assert registry.decisions("caller")[0].outcome == "refused"
