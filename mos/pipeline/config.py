"""Load and check an experiment config, and resolve it into the JSON job specs of every stage.

The Snakefile and the command-line tools share this module (it never imports Snakemake):

    python -m mos config check config/config.yaml            # validate; print the grid size
    python -m mos config runs config/config.yaml             # list backbone, mixture, seed of every run
    python -m mos config spec train config/config.yaml tiny-llama proportional 0    # a job's spec
    python -m mos config spec pretrain config/config.yaml tiny-llama
    python -m mos config spec eval config/config.yaml tiny-llama proportional 0

`load_config` validates against workflow/schemas/config.schema.yaml, fills the schema defaults,
then checks what a schema cannot (mos.pipeline.checks): strategy names and parameters (through `mos.mixing.registry.build`),
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
from mos.mixing import registry
from mos.pipeline.checks import check_semantics
from mos.pipeline.errors import ConfigError

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
    check_semantics(cfg, source)
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
