"""The promotion gate and rollback: an alias moves only by a recorded decision.

`promote(registry, name, version, actor=...)`:
1 the challenger must reproduce its own registered test output bit for bit (verify.py);
2 it must beat the current holder of the alias on every evaluation set named in the holder's metrics
  (held-out sets, recorded at registration): not worse on any gated metric of any set, better on at least
  one; a set the challenger was not evaluated on refuses it;
3 the decision (outcome, the numbers compared, who, why) is appended to the registry, and to the audit log
  when an `audit` callback is given, before the alias moves; a refusal raises PromotionRefused after it is
  recorded.
`rollback` moves the alias back to the version it pointed at before its last promotion, also recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labstream.models.base import Decision, ModelRegistry, ModelVersion
from labstream.models.errors import PromotionRefused, RegistryError
from labstream.models.verify import verify_version

GATED_METRICS = ("snp_f1", "indel_f1")
Audit = Callable[[str, str, dict[str, Any]], None]  # (actor, action, detail)


def compare(
    champion: ModelVersion, challenger: ModelVersion, metrics: tuple[str, ...] = GATED_METRICS
) -> tuple[bool, dict[str, Any]]:
    """(challenger wins, per set and metric the two values)."""
    table: dict[str, Any] = {}
    worse, better, missing = [], [], []
    for eval_set, values in sorted(champion.metrics.items()):
        theirs = challenger.metrics.get(eval_set)
        if theirs is None:
            missing.append(eval_set)
            continue
        for m in metrics:
            if m not in values:
                continue
            a, b = float(values[m]), float(theirs.get(m, float("nan")))
            table[f"{eval_set}.{m}"] = {"champion": a, "challenger": b}
            if not b >= a:
                worse.append(f"{eval_set}.{m}")
            elif b > a:
                better.append(f"{eval_set}.{m}")
    wins = not worse and not missing and bool(better)
    return wins, {"sets": table, "worse": worse, "better": better, "missing_sets": missing}


def _record(registry: ModelRegistry, decision: Decision, audit: Audit | None) -> None:
    registry.record_decision(decision)
    if audit is not None:
        audit(decision.actor, f"models.{decision.outcome}", {**decision.__dict__})


def promote(
    registry: ModelRegistry,
    name: str,
    version: int,
    *,
    actor: str,
    alias: str = "champion",
    reason: str = "",
    audit: Audit | None = None,
) -> Decision:
    challenger = registry.get(name, version)
    holder = registry.by_alias(name, alias)
    check = verify_version(registry, challenger)
    comparison: dict[str, Any] = {"verify": "ok" if check.ok else check.problem}
    wins = check.ok
    if check.ok and holder is not None and holder.version != version:
        wins, table = compare(holder, challenger)
        comparison |= table
    elif holder is not None and holder.version == version:
        raise RegistryError(f"{challenger.tag} is already {name}@{alias}; nothing to promote")
    decision = Decision(
        model=name,
        alias=alias,
        challenger=version,
        champion=holder.version if holder else None,
        outcome="promoted" if wins else "refused",
        actor=actor,
        reason=reason,
        comparison=comparison,
        ts=time.time(),
    )
    _record(registry, decision, audit)
    if not wins:
        why = (
            comparison.get("verify")
            if not check.ok
            else (
                f"worse on {comparison.get('worse')}, missing sets {comparison.get('missing_sets')}, "
                f"better on {comparison.get('better')}"
            )
        )
        raise PromotionRefused(
            f"{name}/{version} is not promoted to {alias} over {name}/{decision.champion}: {why}; "
            "train a better challenger or evaluate it on the champion's sets"
        )
    registry.set_alias(name, alias, version)
    return decision


def rollback(
    registry: ModelRegistry,
    name: str,
    *,
    actor: str,
    alias: str = "champion",
    reason: str = "",
    audit: Audit | None = None,
) -> Decision:
    holder = registry.by_alias(name, alias)
    if holder is None:
        raise RegistryError(f"{name} has no {alias} to roll back; promote a version first")
    last = [
        d
        for d in registry.decisions(name)
        if d.alias == alias and d.outcome == "promoted" and d.challenger == holder.version
    ]
    previous = last[-1].champion if last else None
    if previous is None:
        raise RegistryError(f"{name}@{alias} ({holder.tag}) has no earlier version to roll back to")
    decision = Decision(name, alias, previous, holder.version, "rolled-back", actor, reason, {}, time.time())
    _record(registry, decision, audit)
    registry.set_alias(name, alias, previous)
    return decision


__all__ = ["GATED_METRICS", "compare", "promote", "rollback"]
