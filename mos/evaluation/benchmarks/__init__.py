"""Benchmarks by name: a scan of this folder plus the `mos.benchmarks` entry-point group, so a new
benchmark is one file here (or one entry point in a user's own package). The contract is in `base`.

    python -m mos benchmarks        # list every benchmark: options, metrics, where its data lives

Built in: testbed_mc, testbed_math, testbed_chat (the generated testbed), mmlu_dev, mmlu, gsm8k,
math (`hendrycks_math`), mt_bench.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import inspect
import pkgutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from mos.evaluation.benchmarks.base import Benchmark, Samples, spec_integer

ENTRY_POINT_GROUP = "mos.benchmarks"


class BenchmarkError(ValueError):
    """Unknown benchmark name or a bad option; the message lists the valid choices."""


def _benchmarks_in(module: Any) -> list[type[Benchmark]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Benchmark) and obj.__module__ == module.__name__ and obj.name]


@cache
def available() -> dict[str, type[Benchmark]]:
    """Every registered benchmark class by name (scanned once per process)."""
    found: dict[str, type[Benchmark]] = {}

    def add(cls: type[Benchmark], origin: str) -> None:
        if cls.name in found and found[cls.name] is not cls:
            raise BenchmarkError(f"benchmark name {cls.name!r} is defined twice: "
                                 f"{found[cls.name].__module__} and {origin}")
        found[cls.name] = cls

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for cls in _benchmarks_in(module):
                add(cls, module.__name__)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (inspect.isclass(cls) and issubclass(cls, Benchmark) and cls.name):
            raise BenchmarkError(f"entry point {ep.name} = {ep.value} is not a named Benchmark subclass")
        add(cls, ep.value)
    return dict(sorted(found.items()))


def get(name: str) -> type[Benchmark]:
    """The benchmark class called `name`; an unknown name lists the valid ones."""
    benchmarks = available()
    if name not in benchmarks:
        guess = difflib.get_close_matches(str(name), benchmarks, n=1)
        hint = f" Did you mean {guess[0]!r}?" if guess else ""
        raise BenchmarkError(f"unknown benchmark {name!r}.{hint} Available: {', '.join(benchmarks)}")
    return benchmarks[name]


def options(cls: type[Benchmark]) -> dict[str, dataclasses.Field]:
    """The spec keys of a benchmark's options (`<name>_<field>`) -> their fields."""
    return {f"{cls.name}_{f.name}": f for f in dataclasses.fields(cls) if f.init}


def build(name: str, spec: Mapping[str, Any]) -> Benchmark:
    """Benchmark `name` with its options from `spec` (a `SpecError` names a bad one)."""
    cls = get(name)
    return cls(**{f.name: spec_integer(spec, key, f.default, f.metadata.get("least", 0))
                  for key, f in options(cls).items()})


def read_items(path: str | Path, name: str) -> Any:
    """The checked data of benchmark `name` in `path`, its options at their defaults."""
    return build(name, {}).load(str(path))


def scored_items(name: str, samples: Samples) -> list[dict[str, Any]]:
    """Benchmark `name`'s per-item scores from lm-eval's logged samples (task name -> samples)."""
    return build(name, {}).items(samples)


def describe() -> str:
    lines = []
    for name, cls in available().items():
        opts = ", ".join(f"{key}={f.default}" for key, f in options(cls).items())
        reports = "judged (answers)" if cls.judged else ", ".join(cls.metrics)
        doc = next(iter((inspect.getdoc(cls) or "").splitlines()), "")
        lines.append(f"{name:<14} {cls.__module__}.{cls.__qualname__}  {doc}\n{'':<14} reports: {reports}; "
                     f"data: {cls.path}{'; options: ' + opts if opts else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print every registered benchmark (`python -m mos benchmarks`)."""
    print(describe())
    return 0

