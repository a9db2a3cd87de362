"""Lifecycle policies: which objects move to a colder tier (or expire), what that saves and what it
costs in early-deletion fees. Pure: objects in, moves out; `lifecycle_run` does the I/O.

A policy is a TOML file; rules are tried in order and the first whose filters match an object decides:

    [[rule]]
    name = "raw reads"
    prefix = "raw/"                      # relative to the object store's root
    tags = { kind = "fastq" }            # every tag must match (optional)
    min_size = 1048576                   # bytes (optional; max_size too)
    last_access_days = 60                # only objects not read through the platform for 60 days
    transitions = [{ days = 30, tier = "cool" }, { days = 90, tier = "archive" }]
    expire_days = 3650                   # optional

    [holds]                              # entities (samples, plates) that must not move, and why
    S7 = "legal hold, case 2026-14"

Why labstream evaluates the rules and not S3: the bucket's own lifecycle cannot know which samples
have an open case or an unsigned report, and a rule that archives one of those breaks a promise. Age
counts from the object's first creation; a move never warms an object (restores do that); an object
leaving a tier before the tier's minimum storage duration (cool 30, archive 90, deep_archive 180 days,
as S3) pays the rest of that duration at the tier's price (`early_fee_usd`). Last access is when
the platform last served the object (labstream.catalog.access: DRS, htsget, reports, `labstream
lifecycle get`), its creation when it was never read.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labstream.core.errors import ConfigError
from labstream.objects.tiers import TIERS, StoredObject
from labstream.ops.pricebook import PriceBook

__all__ = ["MIN_DAYS", "Move", "Policy", "Rule", "load_policy", "plan", "replay", "target"]

DAY = 86400.0
GIB = float(2**30)
MONTH_DAYS = 30.0
MIN_DAYS = {"hot": 0.0, "cool": 30.0, "archive": 90.0, "deep_archive": 180.0}
EXPIRE = "expired"


@dataclass(frozen=True)
class Rule:
    name: str
    prefix: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    min_size: int = 0
    max_size: int | None = None
    transitions: tuple[tuple[float, str], ...] = ()  # (age days, tier), by age
    expire_days: float | None = None
    last_access_days: float | None = None  # only objects not read for at least this many days

    def matches(self, relpath: str, size: int, tags: Mapping[str, str], idle_days: float = math.inf) -> bool:
        return (
            relpath.startswith(self.prefix)
            and size >= self.min_size
            and (self.max_size is None or size <= self.max_size)
            and all(tags.get(k) == v for k, v in self.tags.items())
            and (self.last_access_days is None or idle_days >= self.last_access_days)
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    holds: Mapping[str, str] = field(default_factory=dict)  # entity key -> reason


@dataclass(frozen=True)
class Move:
    """What the policy does to one object now: `action` is "transition", "expire", or "held" (the
    rule would move it but a hold keeps it; `reason` says which)."""

    uri: str
    rule: str
    action: str
    from_tier: str
    to_tier: str
    bytes: int
    age_days: float
    monthly_saving_usd: float
    early_fee_usd: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rule(raw: Mapping[str, Any], where: str) -> Rule:
    name = str(raw.get("name") or where)
    steps = []
    for t in raw.get("transitions", []):
        tier = str(t.get("tier", ""))
        if tier not in TIERS[1:]:
            raise ConfigError(
                f"{where} ({name}): transition to unknown tier {tier!r}; use {', '.join(TIERS[1:])}"
            )
        steps.append((float(t["days"]), tier))
    steps.sort()
    if [TIERS.index(t) for _, t in steps] != sorted(TIERS.index(t) for _, t in steps):
        raise ConfigError(f"{where} ({name}): transitions must go colder with age; order them hot to archive")
    expire = raw.get("expire_days")
    idle = raw.get("last_access_days")
    return Rule(
        name=name,
        prefix=str(raw.get("prefix", "")).lstrip("/"),
        tags={str(k): str(v) for k, v in dict(raw.get("tags", {})).items()},
        min_size=int(raw.get("min_size", 0)),
        max_size=None if raw.get("max_size") is None else int(raw["max_size"]),
        transitions=tuple(steps),
        expire_days=None if expire is None else float(expire),
        last_access_days=None if idle is None else float(idle),
    )


def load_policy(source: str | Path | Mapping[str, Any]) -> Policy:
    """A policy from a TOML file (or its parsed mapping); ConfigError names what is wrong."""
    if isinstance(source, Mapping):
        data, where = dict(source), "policy"
    else:
        where = str(source)
        try:
            data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"no lifecycle policy at {where}; give a TOML file with [[rule]] tables"
            ) from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(
                f"lifecycle policy {where} is not valid TOML ({err}); fix the line it names"
            ) from None
    try:
        rules = tuple(_rule(r, f"{where} rule {i + 1}") for i, r in enumerate(data.get("rule", [])))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"lifecycle policy {where}: a rule is malformed ({err}); see labstream.ops.lifecycle"
        ) from None
    if not rules:
        raise ConfigError(f"lifecycle policy {where} has no [[rule]]; add at least one")
    return Policy(rules=rules, holds={str(k): str(v) for k, v in dict(data.get("holds", {})).items()})


def target(rule: Rule, age_days: float) -> str | None:
    """The tier an object of this age belongs in under `rule` (EXPIRE to delete), None to leave it."""
    if rule.expire_days is not None and age_days >= rule.expire_days:
        return EXPIRE
    reached = [tier for days, tier in rule.transitions if age_days >= days]
    return reached[-1] if reached else None


def _rate(book: PriceBook, region: str, tier: str) -> float:
    return 0.0 if tier == EXPIRE else book.storage_gb_month(region, tier)


def plan(
    objects: Iterable[StoredObject],
    policy: Policy,
    book: PriceBook,
    *,
    region: str,
    root: str,
    now: float,
    holds: Mapping[str, str] | None = None,
    accessed: Mapping[str, float] | None = None,
) -> list[Move]:
    """The moves `policy` asks for now. `root` is the store URL the rules' prefixes are relative to;
    `holds` maps object URIs to the reason they must not move (open case, legal hold); `accessed`
    to when each was last read through the platform."""
    held = holds or {}
    reads = accessed or {}
    moves = []
    for obj in objects:
        rel = obj.uri[len(root) :].lstrip("/") if obj.uri.startswith(root) else obj.uri
        idle = max(0.0, now - max(obj.created, reads.get(obj.uri, 0.0))) / DAY
        rule = next((r for r in policy.rules if r.matches(rel, obj.size, obj.tags, idle)), None)
        if rule is None:
            continue
        age = max(0.0, now - obj.created) / DAY
        to = target(rule, age)
        if to is None or (to != EXPIRE and TIERS.index(to) <= TIERS.index(obj.tier)):
            continue
        gb = obj.size / GIB
        in_tier = max(0.0, now - obj.tier_since) / DAY
        early = max(0.0, MIN_DAYS.get(obj.tier, 0.0) - in_tier)
        reason = held.get(obj.uri, "")
        moves.append(
            Move(
                uri=obj.uri,
                rule=rule.name,
                action="held" if reason else ("expire" if to == EXPIRE else "transition"),
                from_tier=obj.tier,
                to_tier=to,
                bytes=obj.size,
                age_days=age,
                monthly_saving_usd=gb * (_rate(book, region, obj.tier) - _rate(book, region, to)),
                early_fee_usd=gb * _rate(book, region, obj.tier) * early / MONTH_DAYS,
                reason=reason,
            )
        )
    return moves


def replay(
    arrivals: Sequence[tuple[float, int, str]],
    policy: Policy,
    book: PriceBook,
    *,
    region: str,
    days: int = 365,
) -> dict[str, float]:
    """The storage bill of `days` days of a lab under `policy` and all-hot. `arrivals`: (day it is
    written, bytes, path relative to the store). An object moves the day it reaches a rule's age (as S3
    lifecycle does) and is billed per day in the tier it is in; a GB-month is 30 days; expiring or
    leaving a tier before its minimum duration adds the early fee."""
    bill = {"policy_usd": 0.0, "all_hot_usd": 0.0, "early_fee_usd": 0.0}
    hot = _rate(book, region, "hot")
    for day0, size, rel in arrivals:
        rule = next((r for r in policy.rules if r.matches(rel, size, {})), None)
        gb, life = size / GIB, max(0.0, days - float(day0))
        bill["all_hot_usd"] += gb * hot * life / MONTH_DAYS
        steps = list(rule.transitions) if rule else []
        if rule and rule.expire_days is not None:
            steps = [(a, t) for a, t in steps if a < rule.expire_days] + [(rule.expire_days, EXPIRE)]
        tier, since = "hot", 0.0
        for age, to in steps:
            if age >= life:
                break
            if to != EXPIRE and TIERS.index(to) <= TIERS.index(tier):
                continue
            bill["policy_usd"] += gb * _rate(book, region, tier) * (age - since) / MONTH_DAYS
            early = max(0.0, MIN_DAYS[tier] - (age - since))
            bill["early_fee_usd"] += gb * _rate(book, region, tier) * early / MONTH_DAYS
            tier, since = to, age
        if tier != EXPIRE:
            bill["policy_usd"] += gb * _rate(book, region, tier) * (life - since) / MONTH_DAYS
    bill["policy_usd"] += bill["early_fee_usd"]
    bill["saved_usd"] = bill["all_hot_usd"] - bill["policy_usd"]
    return bill
