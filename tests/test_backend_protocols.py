"""Each backend family's Protocol names every capability the platform uses (issue 10, item 3).

Read from classes and source only (no backend is started):
- every registered implementation has every method of its family's Protocol with the same parameters
  (names, kinds, defaults): a keyword the platform passes, such as `identity=`, is part of the contract;
- no public method of an implementation that its Protocol lacks is used outside the implementation's
  own package. A name that another class of labstream or a builtin container also defines cannot be
  told apart by name, so it is not counted;
- outside its family's package, no module imports a registered implementation class: callers open a
  backend through the family's `open_*` and hold the Protocol.
Each exception below names the module and why it needs the concrete class.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "labstream"

# (module that reaches for a concrete class, class or member): why
EXCEPTIONS = {
    ("ops/stored.py", "FsspecStore"): "sizes objects where the storage tiers keep them (physical store)",
    ("ops/stored.py", "path_of"): "same: the tiers' path of a URI in the physical store",
    ("ops/lifecycle_run.py", "FsspecStore"): "objects.tiers acts on the physical fsspec store",
    ("deploy/doctor.py", "DaskExecutor"): "asks the Dask scheduler itself for its workers' resources",
    ("deploy/doctor.py", "client"): "same (the Dask client)",
}


def _cls(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _families() -> list[tuple[str, type, type]]:
    """(family package, Protocol, implementation class) for every implementation the platform opens."""
    from labstream import catalog, compute, stream
    from labstream.governance.encrypted_store import EncryptedStore
    from labstream.lake.base import LakeTables
    from labstream.lake.delta import Lake
    from labstream.models.base import REGISTRIES, ModelRegistry
    from labstream.objects.base import ObjectStore
    from labstream.objects.claimcheck import ClaimCheckedStore
    from labstream.objects.fsspec_store import FsspecStore

    out = [
        ("objects", ObjectStore, FsspecStore),
        ("objects", ObjectStore, ClaimCheckedStore),
        ("objects", ObjectStore, EncryptedStore),
        ("lake", LakeTables, Lake),
    ]
    for family, registry, proto in (
        ("stream", stream.REGISTRY, stream.Stream),
        ("catalog", catalog.REGISTRY, catalog.CatalogStore),
        ("compute", compute.REGISTRY, compute.Executor),
    ):
        out += [(family, proto, _cls(t)) for t, _extra in dict.fromkeys(registry.values())]
    out += [("models", ModelRegistry, _cls(t)) for t in dict.fromkeys(REGISTRIES.values())]
    return list(dict.fromkeys(out))


FAMILIES = _families()


def _members(proto: type) -> set[str]:
    """The names a Protocol declares (methods, properties, annotated attributes), its bases' included."""
    names: set[str] = set()
    for base in proto.__mro__:
        if base.__module__.startswith("labstream."):
            names |= set(getattr(base, "__annotations__", {}))
            names |= {n for n in vars(base) if not n.startswith("_") or n in ("__enter__", "__exit__")}
    return names


def _params(fn: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize(("family", "proto", "impl"), FAMILIES, ids=lambda x: getattr(x, "__name__", x))
def test_implementation_matches_its_protocol(family: str, proto: type, impl: type) -> None:
    for name in sorted(_members(proto)):
        declared = inspect.getattr_static(proto, name, None)
        if not inspect.isfunction(declared):
            continue  # data attributes and properties: set per instance
        assert hasattr(impl, name), f"{impl.__name__} lacks {proto.__name__}.{name}"
        assert _params(getattr(impl, name)) == _params(declared), (
            f"{impl.__name__}.{name}{inspect.signature(getattr(impl, name))} differs from "
            f"{proto.__name__}.{name}{inspect.signature(declared)}: declare the parameter in the Protocol"
        )


@cache
def _trees() -> dict[str, ast.Module]:
    return {p.relative_to(SRC).as_posix(): ast.parse(p.read_text()) for p in sorted(SRC.rglob("*.py"))}


def _names_set(node: ast.AST) -> list[str]:
    """What a class body node defines: a method, a class attribute or `self.name = ...`."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    targets = (
        node.targets
        if isinstance(node, ast.Assign)
        else [node.target]
        if isinstance(node, ast.AnnAssign)
        else []
    )
    return [
        t.id if isinstance(t, ast.Name) else t.attr
        for t in targets
        if isinstance(t, ast.Name | ast.Attribute)
    ]


@cache
def _defined_by_class() -> dict[str, set[str]]:
    """name -> the classes of labstream that define it."""
    out: dict[str, set[str]] = {}
    for tree in _trees().values():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in ast.walk(cls):
                for name in _names_set(node):
                    out.setdefault(name, set()).add(cls.name)
    return out


@cache
def _used_outside(package: str) -> dict[str, set[str]]:
    """attribute name -> modules outside `package` that use it (`x.name`)."""
    used: dict[str, set[str]] = {}
    for path, tree in _trees().items():
        if path.startswith(f"{package}/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                used.setdefault(node.attr, set()).add(path)
    return used


BUILTIN_NAMES = set().union(*(dir(t) for t in (dict, list, set, str, bytes, tuple)))


@pytest.mark.parametrize(("family", "proto", "impl"), FAMILIES, ids=lambda x: getattr(x, "__name__", x))
def test_capabilities_used_outside_are_declared(family: str, proto: type, impl: type) -> None:
    own = impl.__module__.split(".")[1]
    hierarchy = {c.__name__ for c in impl.__mro__}
    shared = _defined_by_class()
    used = _used_outside(own)
    undeclared = {
        f"{name} (used in {', '.join(sorted(m for m in used[name] if (m, name) not in EXCEPTIONS))})"
        for name, _ in inspect.getmembers(impl)
        if not name.startswith("_")
        and name not in _members(proto)
        and name not in BUILTIN_NAMES
        and not shared.get(name, set()) - hierarchy
        and any((m, name) not in EXCEPTIONS for m in used.get(name, ()))
    }
    assert not undeclared, f"{impl.__name__} is used for what {proto.__name__} does not declare: {undeclared}"


def test_callers_hold_the_protocol_not_the_implementation() -> None:
    from labstream.objects.claimcheck import ClaimCheckedStore  # a view the runtime wraps stores in

    concrete = {
        impl.__name__: family
        for family, _proto, impl in FAMILIES
        if impl.__module__.split(".")[1] == family and impl is not ClaimCheckedStore
    }
    found = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labstream."):
                for alias in node.names:
                    family = concrete.get(alias.name)
                    if family and not path.startswith(f"{family}/") and (path, alias.name) not in EXCEPTIONS:
                        found.append(f"{path}:{node.lineno} imports {alias.name}")
    assert not found, f"open the backend with its family's open_* and type it with the Protocol: {found}"


def test_every_exception_is_still_needed() -> None:
    for path, name in EXCEPTIONS:
        assert name in (SRC / path).read_text(), f"{path} no longer uses {name}: drop its exception"
