"""Find mixing strategies by name: a scan of the `baselines` package plus the `mos.strategies`
entry-point group, so a new strategy is one file (or one entry point in a user's own package).

    python -m mos strategies        # list every strategy with its parameters
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import pkgutil
import sys
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from mos.common.naming import did_you_mean
from mos.mixing.strategy import MixingStrategy, parse_tau

SCAN_PACKAGES = ("baselines",)
ENTRY_POINT_GROUP = "mos.strategies"


class StrategyError(ValueError):
    """Unknown strategy name or bad parameters; the message lists the valid choices."""


def _strategies_in(module: Any) -> list[type[MixingStrategy]]:
    return [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, MixingStrategy) and obj is not MixingStrategy
        and obj.__module__ == module.__name__ and obj.name
    ]


@cache
def available() -> dict[str, type[MixingStrategy]]:
    """Every registered strategy class by name (scanned once per process)."""
    found: dict[str, type[MixingStrategy]] = {}

    def add(cls: type[MixingStrategy], origin: str) -> None:
        if cls.name in found and found[cls.name] is not cls:
            raise StrategyError(f"strategy name {cls.name!r} is defined twice: "
                                f"{found[cls.name].__module__} and {origin}")
        found[cls.name] = cls

    for pkg_name in SCAN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{pkg_name}.{info.name}")
            for cls in _strategies_in(module):
                add(cls, module.__name__)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (inspect.isclass(cls) and issubclass(cls, MixingStrategy)):
            raise StrategyError(f"entry point {ep.name} = {ep.value} is not a MixingStrategy subclass")
        add(cls, ep.value)
    return dict(sorted(found.items()))


def get(name: str) -> type[MixingStrategy]:
    """The strategy class called `name`; an unknown name lists the valid ones."""
    strategies = available()
    if name not in strategies:
        raise StrategyError(f"unknown strategy {name!r}.{did_you_mean(name, strategies)} "
                            f"Available: {', '.join(strategies)}")
    return strategies[name]


def parameters(cls: type[MixingStrategy]) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init} if dataclasses.is_dataclass(cls) else {}


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check a config value against a field annotation (basic types, Literal, Optional, dict, list)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin is typing.Literal:
        if value not in args:
            raise StrategyError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except StrategyError as e:
                errors.append(str(e))
        raise StrategyError(errors[0] if errors else f"{where}: bad value {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise StrategyError(f"{where}: expected a number, got {value!r}")
        try:
            return parse_tau(value) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise StrategyError(f"{where}: expected a number, got {value!r}") from None
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StrategyError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise StrategyError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise StrategyError(f"{where}: expected a string, got {value!r}")
        return value
    if origin in (dict, Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise StrategyError(f"{where}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise StrategyError(f"{where}: expected a list, got {value!r}")
        vt = args[0] if args else Any
        return [_coerce(v, vt, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def build(name: str, params: Mapping[str, Any] | None = None, where: str = "mixture") -> MixingStrategy:
    """Instantiate strategy `name` with config `params`, rejecting unknown or ill-typed keys."""
    cls = get(name)
    fields = parameters(cls)
    params = dict(params or {})
    unknown = sorted(set(params) - set(fields))
    if unknown:
        valid = ", ".join(fields) or "(none)"
        raise StrategyError(f"{where}: unknown parameter(s) {unknown} for strategy {name!r}; valid: {valid}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(v, hints.get(k, Any), f"{where}.{k}") for k, v in params.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise StrategyError(f"{where}: {e}") from None


def describe() -> str:
    lines = []
    for name, cls in available().items():
        params = ", ".join(
            f"{f.name}={f.default!r}" if f.default is not dataclasses.MISSING else f.name
            for f in parameters(cls).values()
        )
        doc = (inspect.getdoc(cls) or "").splitlines()[0] if inspect.getdoc(cls) else ""
        lines.append(f"{name:<16} {cls.__module__}.{cls.__qualname__}({params})  {doc}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print every registered strategy with its parameters (`python -m mos strategies`)."""
    print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
