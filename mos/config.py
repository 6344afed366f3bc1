"""Load and check an experiment config, and resolve it into the JSON job specs of every stage.

The Snakefile and the command-line tools share this module (it never imports Snakemake):

    python -m mos.config check config/config.yaml            # validate; print the grid size
    python -m mos.config runs config/config.yaml             # list backbone, mixture, seed of every run
    python -m mos.config spec train config/config.yaml tiny-llama proportional 0    # a job's spec
    python -m mos.config spec pretrain config/config.yaml tiny-llama
    python -m mos.config spec eval config/config.yaml tiny-llama proportional 0

`load_config` validates against workflow/schemas/config.schema.yaml, fills the schema defaults,
then checks what a schema cannot: strategy names and parameters (through `mos.registry.build`),
references between sections, and equal training budgets. Every error is a `ConfigError` whose
message names the file and the key path, e.g. `config/config.yaml: train.lr: expected number,
got 'abc'`. The spec layouts are documented in docs/interfaces.md.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mos import chat_templates, registry

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
MIXTURE_KEYS = ("strategy", "paper_label", "train", "datasets")  # the rest are strategy parameters
TINY_SIZE_KEYS = ("family", "hidden_size", "num_layers", "num_heads", "intermediate_size")
MMLU_DEV_PATH = "resources/mmlu_dev/mmlu_dev.jsonl"  # shared by every experiment
MMLU_HUB = "cais/mmlu"  # the hub dataset of lm-eval's built-in MMLU tasks
MT_BENCH_PATH = "resources/mt_bench/question.jsonl"  # shared by every experiment (python -m mos.eval.mt_bench_data)
CHAT_BENCHMARKS = ("testbed_chat", "mt_bench")  # answered by generation, then graded by a judge
MC_BENCHMARKS = ("testbed_mc", "mmlu_dev", "mmlu")  # multiple choice with the paper's MMLU groups (Table 2)
Run = tuple[str, str, int]


class ConfigError(ValueError):
    """An invalid config; the message names the file and the key path of every problem."""


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
    _check_semantics(cfg, source)
    return cfg


def _read_yaml(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{source}: cannot read the config: {e.strerror}") from None
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


def _did_you_mean(word: Any, choices: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    guess = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {guess[0]!r}?" if guess else ""


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
        return [(path, f"unknown key {k!r}.{_did_you_mean(k, valid)} Valid keys: {', '.join(valid)}")
                for k in inst if k not in valid]
    if kind == "type":
        return [(path, f"expected {_type_words(value)}, got {inst!r}")]
    if kind == "enum":
        return [(path, f"expected one of {', '.join(map(str, value))}; got {inst!r}.{_did_you_mean(inst, value)}")]
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


# ---------------------------------------------------------------- semantic checks


def _check_semantics(cfg: dict[str, Any], source: str) -> None:
    problems: list[str] = []
    for check in (_check_experiment, _check_backbones, _check_mixtures, _check_grid, _check_eval):
        problems.extend(check(cfg))
    if not problems:  # budgets and trains need valid references
        problems.extend(_check_trains(cfg))
        problems.extend(_check_budgets(cfg))
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))


def _check_experiment(cfg: Mapping[str, Any]) -> list[str]:
    if cfg["experiment"] == "paper":
        return ["experiment: 'paper' is reserved: results/paper/ holds the paper's reference numbers"]
    return []


def _check_backbones(cfg: Mapping[str, Any]) -> list[str]:
    problems = [f"backbones.{name}: hidden_size {b['hidden_size']} is not a multiple of num_heads {b['num_heads']}"
                for name, b in cfg["backbones"].items()
                if "family" in b and b["hidden_size"] % b["num_heads"]]
    for name, b in cfg["backbones"].items():
        if b.get("chat_template"):
            try:
                chat_templates.resolve(b["chat_template"])
            except ValueError as e:
                problems.append(f"backbones.{name}.chat_template: {e}")
    return problems


def _check_eval(cfg: Mapping[str, Any]) -> list[str]:
    """Judges fit the chat benchmarks; the win-rate reference is a mixture of the grid."""
    ev, problems = cfg["eval"], []
    names = all_benchmarks(cfg)
    judge = ev["judge"]
    if "mt_bench" in names and judge["kind"] == "reference":
        problems.append("eval.judge.kind: the reference judge grades only questions with exact references "
                        "(testbed_chat); mt_bench needs an LLM judge (kind: http or local)")
    if judge["kind"] == "http" and not (judge["base_url"] and judge["model"]):
        problems.append("eval.judge: kind http needs base_url and model")
    if judge["kind"] == "local" and not judge["model"]:
        problems.append("eval.judge: kind local needs model (a local chat model folder)")
    if ev["mt_bench"]["source"] == "path" and not ev["mt_bench"]["path"]:
        problems.append("eval.mt_bench.path: required when eval.mt_bench.source is path")
    ref = ev["winrate"]["reference"]
    if ref is not None:
        if ref not in cfg["mixtures"]:
            problems.append(f"eval.winrate.reference: unknown mixture {ref!r}.{_did_you_mean(ref, cfg['mixtures'])} "
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
        problems.extend(f"{where}.datasets: unknown dataset {ds!r}.{_did_you_mean(ds, cfg['datasets'])} "
                        f"Datasets: {', '.join(cfg['datasets'])}" for ds in unknown)
        if unknown:
            continue
        try:
            _build_strategy(cfg, name)
        except ConfigError as e:
            problems.append(str(e))
    return problems


def _build_strategy(cfg: Mapping[str, Any], mixture: str) -> Any:
    """Instantiate a mixture's strategy, dry-run its initial weights; errors become ConfigError."""
    mix, where = cfg["mixtures"][mixture], f"mixtures.{mixture}"
    try:
        cls = registry.get(mix["strategy"])
    except registry.StrategyError as e:
        raise ConfigError(f"{where}.strategy: {e}") from None
    params = {k: v for k, v in mix.items() if k not in MIXTURE_KEYS}
    valid = list(registry.parameters(cls))
    for key in params:
        if key not in valid:
            raise ConfigError(f"{where}: unknown key {key!r} for strategy {mix['strategy']!r}."
                              f"{_did_you_mean(key, [*valid, *MIXTURE_KEYS])} "
                              f"Valid keys: {', '.join([*MIXTURE_KEYS, *valid])}")
    try:
        strategy = registry.build(mix["strategy"], params, where=where)
    except registry.StrategyError as e:
        raise ConfigError(str(e)) from None
    try:  # catches e.g. fixed weights that do not name the mixture's datasets
        strategy.initial_weights(dict.fromkeys(mixture_datasets(cfg, mixture), 1000), seed=0)
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None
    return strategy


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
                                    f"{_did_you_mean(n, cfg[section])} Valid: all, {', '.join(cfg[section])}")
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
    """Within a backbone, every mixture must train on the same number of examples."""
    conflicts: dict[tuple[str, ...], list[str]] = {}  # mixtures of a backbone -> backbones
    for backbone in grid_backbones(cfg):
        mixtures = tuple(_in_config_order((m for b, m, _ in runs(cfg) if b == backbone), cfg["mixtures"]))
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


# ---------------------------------------------------------------- the grid


def _block_names(cfg: Mapping[str, Any], block: Mapping[str, Any], section: str) -> list[str]:
    return list(cfg[section]) if block[section] == "all" else list(block[section])


def runs(cfg: Mapping[str, Any]) -> list[Run]:
    """Every (backbone, mixture, seed) of the grid once, sorted in config order, then by seed."""
    out = set()
    for block in cfg["grid"]:
        for b in _block_names(cfg, block, "backbones"):
            for m in _block_names(cfg, block, "mixtures"):
                out.update((b, m, s) for s in block.get("seeds", cfg["seeds"]))
    b_pos, m_pos = {b: i for i, b in enumerate(cfg["backbones"])}, {m: i for i, m in enumerate(cfg["mixtures"])}
    return sorted(out, key=lambda r: (b_pos[r[0]], m_pos[r[1]], r[2]))


def _in_config_order(names: Iterable[str], section: Iterable[str]) -> list[str]:
    wanted = set(names)
    return [n for n in section if n in wanted]


def grid_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones that appear in the grid, in config order."""
    return _in_config_order((b for b, _, _ in runs(cfg)), cfg["backbones"])


def grid_mixtures(cfg: Mapping[str, Any]) -> list[str]:
    """Mixtures that appear in the grid, in config order."""
    return _in_config_order((m for _, m, _ in runs(cfg)), cfg["mixtures"])


def is_tiny(cfg: Mapping[str, Any], backbone: str) -> bool:
    return "family" in cfg["backbones"][backbone]


def tiny_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """The grid's tiny backbones, which are pretrained here."""
    return [b for b in grid_backbones(cfg) if is_tiny(cfg, b)]


def mixture_datasets(cfg: Mapping[str, Any], mixture: str) -> list[str]:
    """The datasets a mixture trains on, in config order."""
    subset = cfg["mixtures"][mixture].get("datasets")
    return list(cfg["datasets"]) if subset is None else _in_config_order(subset, cfg["datasets"])


def grid_datasets(cfg: Mapping[str, Any]) -> list[str]:
    """Datasets some run of the grid trains on, in config order."""
    used = {d for m in grid_mixtures(cfg) for d in mixture_datasets(cfg, m)}
    return _in_config_order(used, cfg["datasets"])


def mixture_train(cfg: Mapping[str, Any], mixture: str) -> dict[str, Any]:
    """The train settings of a mixture: the top-level `train` with the mixture's overrides."""
    return {**cfg["train"], **cfg["mixtures"][mixture].get("train", {})}


def budget(cfg: Mapping[str, Any], mixture: str) -> int:
    """Training examples of a mixture: steps x batch_size."""
    train = mixture_train(cfg, mixture)
    return train["steps"] * train["batch_size"]


def needs_testbed(cfg: Mapping[str, Any]) -> bool:
    """Whether any dataset, tiny backbone or benchmark of the grid uses the generated testbed."""
    return (any("testbed" in cfg["datasets"][d] for d in grid_datasets(cfg)) or bool(tiny_backbones(cfg))
            or bool({"testbed_mc", "testbed_math", "testbed_chat"} & set(all_benchmarks(cfg))))


def needs_mmlu_dev(cfg: Mapping[str, Any]) -> bool:
    return "mmlu_dev" in all_benchmarks(cfg)


def all_benchmarks(cfg: Mapping[str, Any]) -> list[str]:
    """eval.benchmarks and every grid block's extra benchmarks, in first-seen order."""
    names = list(cfg["eval"]["benchmarks"])
    for block in cfg["grid"]:
        names += [b for b in block.get("benchmarks", []) if b not in names]
    return names


def chat_benchmarks(names: Sequence[str]) -> list[str]:
    """The two-turn, judged benchmarks among `names`."""
    return [b for b in names if b in CHAT_BENCHMARKS]



def _check_run(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> None:
    if (backbone, mixture, int(seed)) not in set(runs(cfg)):
        raise ConfigError(f"({backbone}, {mixture}, seed {seed}) is not a run of the grid; "
                          f"list them with `python -m mos.config runs CONFIG`")


# ---------------------------------------------------------------- paths


def resources_dir(cfg: Mapping[str, Any]) -> str:
    return f"resources/{cfg['experiment']}"


def results_dir(cfg: Mapping[str, Any]) -> str:
    return f"results/{cfg['experiment']}"


def logs_dir(cfg: Mapping[str, Any]) -> str:
    return f"logs/{cfg['experiment']}"


def testbed_dir(cfg: Mapping[str, Any]) -> str:
    return f"{resources_dir(cfg)}/testbed"


def dataset_path(cfg: Mapping[str, Any], dataset: str) -> str:
    return f"{resources_dir(cfg)}/datasets/{dataset}.jsonl"


def tokenizer_dir(cfg: Mapping[str, Any]) -> str:
    return f"{resources_dir(cfg)}/tokenizer"


def backbone_dir(cfg: Mapping[str, Any], backbone: str) -> str:
    """The `--out` folder of a tiny backbone's pretraining (model/, train_log.csv, run.json)."""
    return f"{resources_dir(cfg)}/backbones/{backbone}"


def pretrained_dir(cfg: Mapping[str, Any], backbone: str) -> str:
    """The pretrained θ0 of a tiny backbone, a Hugging Face model folder."""
    return f"{backbone_dir(cfg, backbone)}/model"


def model_ref(cfg: Mapping[str, Any], backbone: str) -> str:
    """What fine-tuning starts from: the pretrained tiny backbone, or the `source` folder / hub id."""
    return pretrained_dir(cfg, backbone) if is_tiny(cfg, backbone) else cfg["backbones"][backbone]["source"]


def chat_template(cfg: Mapping[str, Any], backbone: str) -> str | None:
    """The Jinja text of the chat template forced on a backbone (`chat_template:`), or None to
    keep the tokenizer's own. Carried in the tokenize, train and eval specs."""
    value = cfg["backbones"][backbone].get("chat_template")
    return chat_templates.resolve(value) if value else None


def run_dir(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    return f"{results_dir(cfg)}/runs/{backbone}/{mixture}/seed{seed}"


def eval_dir(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    return f"{run_dir(cfg, backbone, mixture, seed)}/eval"


def summary_dir(cfg: Mapping[str, Any]) -> str:
    return f"{results_dir(cfg)}/summary"


# ---------------------------------------------------------------- job specs (docs/interfaces.md)


def json_safe(value: Any) -> Any:
    """Replace infinities by "inf"/"-inf" (strategies parse them back) so specs are strict JSON."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def strategy_params(cfg: Mapping[str, Any], mixture: str) -> dict[str, Any]:
    """Every parameter of the mixture's strategy, the defaults included, as strict JSON."""
    strategy = _build_strategy(cfg, mixture)
    return json_safe({name: getattr(strategy, name) for name in registry.parameters(type(strategy))})


def pretrain_spec(cfg: Mapping[str, Any], backbone: str) -> dict[str, Any]:
    """Spec of `python -m mos.pretrain` for a tiny backbone."""
    if backbone not in cfg["backbones"] or not is_tiny(cfg, backbone):
        raise ConfigError(f"{backbone!r} is not a tiny backbone; tiny ones: {', '.join(tiny_backbones(cfg))}")
    spec_backbone = {"name": backbone, **{k: cfg["backbones"][backbone][k] for k in TINY_SIZE_KEYS}}
    return {"backbone": spec_backbone,
            "tokenizer": tokenizer_dir(cfg),
            "corpus": f"{testbed_dir(cfg)}/corpus.jsonl",
            "dialogues": f"{testbed_dir(cfg)}/dialogues.jsonl",
            "pretrain": dict(cfg["pretrain"])}


def train_spec(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, Any]:
    """Spec of `python -m mos.train` for one run."""
    _check_run(cfg, backbone, mixture, seed)
    mix = cfg["mixtures"][mixture]
    return {"backbone": backbone,
            "model": model_ref(cfg, backbone),
            "datasets": {d: dataset_path(cfg, d) for d in mixture_datasets(cfg, mixture)},
            "mixture": {"name": mixture, "strategy": mix["strategy"], "params": strategy_params(cfg, mixture)},
            "train": mixture_train(cfg, mixture),
            "tokenized": tokenized_path(cfg, backbone),
            **({"base_ppl": base_ppl_path(cfg, backbone)} if needs_base_ppl(cfg, mixture) else {}),
            **_template_entry(cfg, backbone),
            "seed": int(seed),
            "paper": {"backbone": cfg["backbones"][backbone].get("paper_label"),
                      "method": mix.get("paper_label")}}


def run_benchmarks(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> list[str]:
    """eval.benchmarks plus the extra `benchmarks` of every grid block the run belongs to."""
    names = list(cfg["eval"]["benchmarks"])
    for block in cfg["grid"]:
        if (backbone in _block_names(cfg, block, "backbones") and mixture in _block_names(cfg, block, "mixtures")
                and int(seed) in block.get("seeds", cfg["seeds"])):
            names += [b for b in block.get("benchmarks", []) if b not in names]
    return names


def benchmark_files(cfg: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, str]:
    """Benchmark name -> its data: a local file, or for `mmlu` the hub dataset lm-eval reads."""
    files = {"testbed_mc": f"{testbed_dir(cfg)}/eval/mc.jsonl", "testbed_math": f"{testbed_dir(cfg)}/eval/math.jsonl",
             "testbed_chat": f"{testbed_dir(cfg)}/eval/chat.jsonl", "mt_bench": MT_BENCH_PATH,
             "mmlu_dev": MMLU_DEV_PATH, "mmlu": MMLU_HUB, "gsm8k": cfg["eval"]["gsm8k"], "math": cfg["eval"]["math"]}
    return {b: files[b] for b in (cfg["eval"]["benchmarks"] if names is None else names)}


def eval_spec(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, Any]:
    """Spec of `python -m mos.evaluate` for one trained run."""
    _check_run(cfg, backbone, mixture, seed)
    names = run_benchmarks(cfg, backbone, mixture, seed)
    spec = {"model": f"{run_dir(cfg, backbone, mixture, seed)}/model",
            "benchmarks": benchmark_files(cfg, names),
            "batch_size": cfg["eval"]["batch_size"],
            **_template_entry(cfg, backbone)}
    if "math" in names:
        spec["math_fewshot"] = cfg["eval"]["math_fewshot"]
    if chat_benchmarks(names):
        spec["generation"] = {**cfg["eval"]["generation"], "seed": int(seed)}
        spec["model_id"] = model_id(backbone, mixture, seed)
    return spec


def model_id(backbone: str, mixture: str, seed: int) -> str:
    """A run's name in answer and judgment files (FastChat's model_id)."""
    return f"{backbone}__{mixture}__seed{int(seed)}"


def judge_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """eval.judge as `mos.judges.build_judge` takes it (unset keys left out)."""
    judge = {k: v for k, v in cfg["eval"]["judge"].items() if v is not None and k != "samples"}
    keep = {"reference": ("kind",), "local": ("kind", "model", "templates", "cache"),
            "http": ("kind", "base_url", "model", "api_key_env", "templates", "temperature", "max_tokens",
                     "concurrency", "timeout", "max_retries", "cache")}[judge["kind"]]
    return {k: v for k, v in judge.items() if k in keep}


def judge_spec(cfg: Mapping[str, Any], backbone: str, mixture: str) -> dict[str, Any] | None:
    """Spec of `python -m mos.judge grade` for one backbone x mixture cell (None: nothing to judge)."""
    cell = [(b, m, s) for b, m, s in runs(cfg) if (b, m) == (backbone, mixture)]
    if not cell:
        raise ConfigError(f"({backbone}, {mixture}) is not a cell of the grid")
    names = chat_benchmarks({n for r in cell for n in run_benchmarks(cfg, *r)})
    if not names:
        return None
    return {"judge": judge_config(cfg), "samples": cfg["eval"]["judge"]["samples"],
            "benchmarks": benchmark_files(cfg, sorted(names)),
            "runs": [{"eval_dir": eval_dir(cfg, b, m, s), "model_id": model_id(b, m, s)} for b, m, s in cell]}


def winrate_spec(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """Spec of `python -m mos.judge winrate`: every run against the reference mixture's run of the
    same backbone and seed (None when eval.winrate.reference is unset or has no run)."""
    ref, bench = cfg["eval"]["winrate"]["reference"], cfg["eval"]["winrate"]["benchmark"]
    if ref is None:
        return None
    grid = set(runs(cfg))
    pairs = []
    for b, m, s in runs(cfg):
        if m == ref or (b, ref, s) not in grid or bench not in run_benchmarks(cfg, b, m, s) \
                or bench not in run_benchmarks(cfg, b, ref, s):
            continue
        pairs.append({"backbone": b, "mixture": m, "seed": s,
                      "model": {"eval_dir": eval_dir(cfg, b, m, s), "model_id": model_id(b, m, s)},
                      "reference": {"eval_dir": eval_dir(cfg, b, ref, s), "model_id": model_id(b, ref, s),
                                    "mixture": ref}})
    if not pairs:
        return None
    return {"judge": judge_config(cfg), "benchmark": bench, "questions": benchmark_files(cfg, [bench])[bench],
            "seed": 0, "pairs": pairs}


def _template_entry(cfg: Mapping[str, Any], backbone: str) -> dict[str, str]:
    """`{"chat_template": <Jinja>}` for a spec when the backbone forces one (else nothing, so the
    specs, and the jobs, of configs without the key stay as they were)."""
    template = chat_template(cfg, backbone)
    return {"chat_template": template} if template else {}


def tokenized_path(cfg: Mapping[str, Any], backbone: str) -> str:
    """The backbone's tokenization cache of every dataset of the grid (`python -m mos.data`)."""
    return f"{resources_dir(cfg)}/tokenized/{backbone}.npz"


def tokenize_args(cfg: Mapping[str, Any], backbone: str) -> list[str]:
    """Arguments of `python -m mos.data` for a backbone."""
    args = ["--model", model_ref(cfg, backbone), "--max-length", str(cfg["train"]["max_length"])]
    if cfg["backbones"][backbone].get("chat_template"):
        args += ["--chat-template", cfg["backbones"][backbone]["chat_template"]]
    for d in grid_datasets(cfg):
        args += ["--dataset", f"{d}={dataset_path(cfg, d)}"]
    return args


def needs_base_ppl(cfg: Mapping[str, Any], mixture: str) -> bool:
    """Whether the mixture's strategy reads base-model perplexities (MoS / MoSpec with DIFF)."""
    return bool(getattr(_build_strategy(cfg, mixture), "needs_base_ppl", False))


def base_ppl_path(cfg: Mapping[str, Any], backbone: str) -> str:
    return f"{resources_dir(cfg)}/base_ppl/{backbone}.csv"


def diff_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones with at least one run whose strategy needs base perplexities (DIFF)."""
    diff = {m for m in grid_mixtures(cfg) if needs_base_ppl(cfg, m)}  # one strategy build per mixture
    return _in_config_order({b for b, m, _ in runs(cfg) if m in diff}, cfg["backbones"])


def base_ppl_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones that need θ0's perplexities: those with a DIFF run or a perplexity-study run (Table 6)."""
    wanted = set(diff_backbones(cfg)) | {b for b, _ in ppl_study_cells(cfg)}
    return _in_config_order(wanted, cfg["backbones"])


def base_ppl_pool_size(cfg: Mapping[str, Any], backbone: str) -> int | None:
    """Examples per dataset in θ0's probe pool: `base_ppl.pool_size` where a DIFF run reads it, else
    only the perplexity study's subsample (never more than `base_ppl.pool_size`)."""
    pool = cfg["base_ppl"]["pool_size"]
    if backbone in diff_backbones(cfg):
        return pool
    return PPL_STUDY_POOL if pool is None else min(pool, PPL_STUDY_POOL)


def base_ppl_spec(cfg: Mapping[str, Any], backbone: str) -> dict[str, Any]:
    """Spec of `python -m mos.base_ppl`: θ0 of the backbone over the probe pool of every dataset."""
    if backbone not in base_ppl_backbones(cfg):
        raise ConfigError(f"no run of {backbone!r} needs base perplexities")
    return {"model": model_ref(cfg, backbone),
            "datasets": {d: dataset_path(cfg, d) for d in grid_datasets(cfg)},
            "tokenized": tokenized_path(cfg, backbone),
            "max_length": cfg["train"]["max_length"],
            "pool_size": base_ppl_pool_size(cfg, backbone),
            "seed": cfg["base_ppl"]["seed"],
            **_template_entry(cfg, backbone)}


# ---------------------------------------------------------------- Table 1 and the perplexity study (Table 6)

# Examples per dataset whose perplexity the study measures under the fine-tuned PROP. model. They are
# the first PPL_STUDY_POOL of θ0's probe pool in the same random order (mos.base_ppl.pool_indices with
# the same seed), so θ0's value of each of them is already in base_ppl/<backbone>.csv.
PPL_STUDY_POOL = 256


def is_proportional(cfg: Mapping[str, Any], mixture: str) -> bool:
    """PROP. (τ = 1): temperature sampling with τ = 1 over every dataset of the grid."""
    mix = cfg["mixtures"][mixture]
    if mix["strategy"] != "temperature" or mixture_datasets(cfg, mixture) != grid_datasets(cfg):
        return False
    return float(getattr(_build_strategy(cfg, mixture), "tau", math.nan)) == 1.0


def ppl_study_cells(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(backbone, mixture) of the perplexity study: per backbone, its first PROP. (τ = 1) mixture."""
    prop = {m for m in grid_mixtures(cfg) if is_proportional(cfg, m)}  # one strategy build per mixture
    cells: dict[str, str] = {}
    for b, m, _ in runs(cfg):
        if b not in cells and m in prop:
            cells[b] = m
    return list(cells.items())


def ppl_study_runs(cfg: Mapping[str, Any]) -> list[Run]:
    """The runs (every seed) of the perplexity-study cells."""
    cells = set(ppl_study_cells(cfg))
    return [r for r in runs(cfg) if r[:2] in cells]


def ppl_study_spec(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, Any]:
    """Spec of `python -m mos.base_ppl` for a fine-tuned PROP. model over the study's subsample."""
    if (backbone, mixture, int(seed)) not in set(ppl_study_runs(cfg)):
        raise ConfigError(f"({backbone}, {mixture}, seed {seed}) is not a run of the perplexity study; "
                          f"its cells: {ppl_study_cells(cfg)}")
    base = base_ppl_spec(cfg, backbone)
    pool = base["pool_size"]
    return {**base, "model": f"{run_dir(cfg, backbone, mixture, seed)}/model",
            "pool_size": PPL_STUDY_POOL if pool is None else min(pool, PPL_STUDY_POOL)}


def ppl_cell_path(cfg: Mapping[str, Any], backbone: str, mixture: str) -> str:
    """The perplexities of a study cell's fine-tuned models, every seed (column `model`)."""
    return f"{results_dir(cfg)}/runs/{backbone}/{mixture}/ppl.csv"


def run_ppl_path(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    """The perplexities of one fine-tuned study model (the layout of base_ppl/<backbone>.csv)."""
    return f"{run_dir(cfg, backbone, mixture, seed)}/ppl.csv"


def dataset_stats_path(cfg: Mapping[str, Any]) -> str:
    """Table 1's statistics of the training datasets (`python -m mos.stats datasets`)."""
    return f"{summary_dir(cfg)}/datasets.csv"


def ppl_summary_path(cfg: Mapping[str, Any]) -> str:
    """Table 6's perplexities per backbone x dataset x seed (`python -m mos.stats ppl`)."""
    return f"{summary_dir(cfg)}/ppl.csv"


def spec_json(spec: Mapping[str, Any]) -> str:
    """The one-line JSON a rule passes as `--spec` (deterministic, so unchanged specs never rerun)."""
    return json.dumps(spec, separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------- command line


def _summary(cfg: Mapping[str, Any], source: str) -> str:
    all_runs = runs(cfg)
    n_b, n_m = len(grid_backbones(cfg)), len(grid_mixtures(cfg))
    n_s = len({s for _, _, s in all_runs})
    return (f"{source}: OK. Experiment {cfg['experiment']!r}: {len(all_runs)} runs "
            f"({n_b} backbones x {n_m} mixtures x {n_s} seeds in {len(cfg['grid'])} grid block(s)); "
            f"{len(tiny_backbones(cfg))} tiny backbone(s) to pretrain; "
            f"{len(grid_datasets(cfg))} datasets; benchmarks: {', '.join(cfg['eval']['benchmarks'])}")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m mos.config", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate a config and print the grid size").add_argument("config")
    sub.add_parser("runs", help="list the runs of the grid").add_argument("config")
    spec = sub.add_parser("spec", help="print a job's JSON spec (pass it to the stage with --spec)")
    spec.add_argument("stage", choices=["pretrain", "base_ppl", "train", "eval", "ppl_study"])
    spec.add_argument("config")
    spec.add_argument("backbone")
    spec.add_argument("mixture", nargs="?")
    spec.add_argument("seed", nargs="?", type=int)
    return ap


def _spec_for(args: argparse.Namespace, cfg: Mapping[str, Any]) -> dict[str, Any]:
    if args.stage == "pretrain":
        return pretrain_spec(cfg, args.backbone)
    if args.stage == "base_ppl":
        return base_ppl_spec(cfg, args.backbone)
    if args.mixture is None or args.seed is None:
        raise ConfigError(f"spec {args.stage} needs BACKBONE MIXTURE SEED")
    make = {"train": train_spec, "eval": eval_spec, "ppl_study": ppl_study_spec}[args.stage]
    return make(cfg, args.backbone, args.mixture, args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config)
        if args.command == "check":
            print(_summary(cfg, args.config))
        elif args.command == "runs":
            print("\n".join(f"{b}\t{m}\t{s}" for b, m, s in runs(cfg)))
        else:
            print(json.dumps(_spec_for(args, cfg), indent=2, ensure_ascii=False, allow_nan=False))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
