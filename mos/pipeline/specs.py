"""Resolve a validated config into the JSON job spec of every stage, and the config's command line.

Every workflow rule passes its job's spec to a `python -m mos <command> --spec ...` call; the specs'
layouts are documented in docs/interfaces.md. The command line prints them for running a job by hand:

    python -m mos config check config/config.yaml            # validate; print the grid size
    python -m mos config runs config/config.yaml             # list backbone, mixture, seed of every run
    python -m mos config spec train config/config.yaml tiny-llama proportional 0    # a job's spec
    python -m mos config spec pretrain config/config.yaml tiny-llama --theta 1   # θ0 of pretrain seed 1
    python -m mos config spec eval config/config.yaml tiny-llama proportional 0
    python -m mos config claims config/config.yaml           # the resolved claims (summary/claims.json)
    python -m mos config sensitivity config/config.yaml      # the judge-sensitivity report's spec
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from mos.common.io import json_safe
from mos.data import chat_templates
from mos.evaluation import benchmarks
from mos.mixing import registry
from mos.pipeline.claims import claims_spec
from mos.pipeline.config import TINY_SIZE_KEYS, load_config
from mos.pipeline.errors import ConfigError
from mos.pipeline.grid import (
    Run,
    all_benchmarks,
    base_ppl_path,
    benchmark_subset_path,
    block_names,
    chat_benchmarks,
    dataset_path,
    eval_dir,
    evaluated_runs,
    grid_backbones,
    grid_datasets,
    grid_mixtures,
    in_config_order,
    is_tiny,
    mixture_datasets,
    mixture_train,
    model_ref,
    results_dir,
    run_dir,
    runs,
    testbed_dir,
    theta_of,
    thetas,
    tiny_backbones,
    tokenized_path,
    tokenizer_dir,
    tokenizer_ref,
    uses_testbed,
)
from mos.pipeline.mixtures import build_strategy, dependencies

# ---------------------------------------------------------------- job specs (docs/interfaces.md)


def _check_run(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> None:
    if (backbone, mixture, int(seed)) not in set(runs(cfg)):
        raise ConfigError(f"({backbone}, {mixture}, seed {seed}) is not a run of the grid; "
                          f"list them with `python -m mos config runs CONFIG`")


def chat_template(cfg: Mapping[str, Any], backbone: str) -> str | None:
    """The Jinja text of the chat template forced on a backbone (`chat_template:`), or None to
    keep the tokenizer's own. Carried in the tokenize, train and eval specs."""
    value = cfg["backbones"][backbone].get("chat_template")
    return chat_templates.resolve(value) if value else None


def strategy_params(cfg: Mapping[str, Any], mixture: str) -> dict[str, Any]:
    """Every parameter of the mixture's strategy, the defaults included, as strict JSON."""
    strategy = build_strategy(cfg, mixture)
    return json_safe({name: getattr(strategy, name) for name in registry.parameters(type(strategy))})


def pretrain_spec(cfg: Mapping[str, Any], backbone: str, theta: int) -> dict[str, Any]:
    """Spec of `python -m mos pretrain` for one θ0 of a tiny backbone (its pretraining seed `theta`)."""
    if backbone not in cfg["backbones"] or not is_tiny(cfg, backbone):
        raise ConfigError(f"{backbone!r} is not a tiny backbone; tiny ones: {', '.join(tiny_backbones(cfg))}")
    if int(theta) not in thetas(cfg, backbone):
        raise ConfigError(f"θ0 {theta} of {backbone!r} is not among pretrain.seeds {thetas(cfg, backbone)}")
    spec_backbone = {"name": backbone, **{k: cfg["backbones"][backbone][k] for k in TINY_SIZE_KEYS}}
    settings = {k: v for k, v in cfg["pretrain"].items() if k != "seeds"}
    return {"backbone": spec_backbone,
            "tokenizer": tokenizer_dir(cfg),
            "corpus": f"{testbed_dir(cfg)}/corpus.jsonl",
            "dialogues": f"{testbed_dir(cfg)}/dialogues.jsonl",
            "pretrain": {**settings, "seed": int(theta)}}


def train_spec(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, Any]:
    """Spec of `python -m mos train` for one run."""
    _check_run(cfg, backbone, mixture, seed)
    mix = cfg["mixtures"][mixture]
    theta = theta_of(cfg, backbone, seed)
    return {"backbone": backbone,
            "model": model_ref(cfg, backbone, theta),
            "theta0": theta,
            "datasets": {d: dataset_path(cfg, d) for d in mixture_datasets(cfg, mixture)},
            "mixture": {"name": mixture, "strategy": mix["strategy"], "params": strategy_params(cfg, mixture)},
            "train": mixture_train(cfg, mixture),
            "tokenized": tokenized_path(cfg, backbone),
            **({"base_ppl": base_ppl_path(cfg, backbone, theta)} if needs_base_ppl(cfg, mixture) else {}),
            **({"runs": dependency_runs(cfg, backbone, mixture, seed)} if dependencies(cfg, mixture) else {}),
            **_template_entry(cfg, backbone),
            **_bos_entry(cfg, backbone),
            "seed": int(seed),
            **({"seed_stream": int(mix["seed_stream"])} if mix.get("seed_stream") else {}),
            "paper": {"backbone": cfg["backbones"][backbone].get("paper_label"),
                      "method": mix.get("paper_label")}}


def strategy_input_files(cfg: Mapping[str, Any], mixture: str) -> list[str]:
    """Files a workflow job writes that the mixture's strategy reads (MixingStrategy.input_files)."""
    try:
        return list(build_strategy(cfg, mixture).input_files())
    except ConfigError:
        return []


def dependency_runs(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, str]:
    """{role: run folder} of the finished runs a run reads (its strategy's dependencies)."""
    return {role: run_dir(cfg, backbone, dep, seed) for role, dep in dependencies(cfg, mixture).items()}


def run_benchmarks(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> list[str]:
    """eval.benchmarks plus the extra `benchmarks` of every grid block the run belongs to."""
    names = list(cfg["eval"]["benchmarks"])
    for block in cfg["grid"]:
        if (backbone in block_names(cfg, block, "backbones") and mixture in block_names(cfg, block, "mixtures")
                and int(seed) in block.get("seeds", cfg["seeds"])):
            names += [b for b in block.get("benchmarks", []) if b not in names]
    return names


def full_benchmark_files(cfg: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, str]:
    """Benchmark name -> all of its data (every benchmark of the grid by default): the benchmark's
    `path` with the experiment's testbed folder and `eval` keys filled in; a local file or a hub id."""
    names = all_benchmarks(cfg) if names is None else names
    return {b: benchmarks.get(b).path.format(testbed=testbed_dir(cfg), eval=cfg["eval"]) for b in names}


def benchmark_files(cfg: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, str]:
    """Benchmark name -> the data its jobs read: the whole file, or its `eval.max_items` subsample."""
    files = full_benchmark_files(cfg, cfg["eval"]["benchmarks"] if names is None else names)
    files.update({b: benchmark_subset_path(cfg, b) for b in cfg["eval"]["max_items"] or {} if b in files})
    return files


def benchmark_inputs(cfg: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """The files evaluating `names` needs made first: the testbed folder for the testbed's benchmarks,
    the data file of the others (none for a hub dataset, which lm-eval reads)."""
    inputs = {}
    for b, path in full_benchmark_files(cfg, names).items():
        if uses_testbed(b):
            inputs["testbed"] = testbed_dir(cfg)
        elif path != benchmarks.get(b).hub:
            inputs[b] = path
    return inputs


def subset_args(cfg: Mapping[str, Any], benchmark: str) -> list[str]:
    """Arguments of `python -m mos subset-benchmark` for a benchmark's `eval.max_items` subsample."""
    data = full_benchmark_files(cfg, [benchmark])[benchmark]
    return ["--data", data, "--n", str(cfg["eval"]["max_items"][benchmark]),
            "--seed", str(cfg["eval"]["max_items_seed"]), "--out", benchmark_subset_path(cfg, benchmark)]


def eval_spec(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> dict[str, Any]:
    """Spec of `python -m mos evaluate` for one trained run."""
    _check_run(cfg, backbone, mixture, seed)
    names = run_benchmarks(cfg, backbone, mixture, seed)
    spec = {"model": f"{run_dir(cfg, backbone, mixture, seed)}/model",
            "benchmarks": benchmark_files(cfg, names),
            "batch_size": cfg["eval"]["batch_size"],
            **_template_entry(cfg, backbone)}
    for b in names:  # benchmark options the config sets (eval.math_fewshot)
        spec.update({k: cfg["eval"][k] for k in benchmarks.options(benchmarks.get(b)) if k in cfg["eval"]})
    if chat_benchmarks(names):
        spec["generation"] = {**cfg["eval"]["generation"], "seed": int(seed)}
        spec["model_id"] = model_id(backbone, mixture, seed)
    return spec


def model_id(backbone: str, mixture: str, seed: int) -> str:
    """A run's name in answer and judgment files (FastChat's model_id)."""
    return f"{backbone}__{mixture}__seed{int(seed)}"


def judge_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """eval.judge as `mos.evaluation.judges.build_judge` takes it (unset keys left out)."""
    judge = {k: v for k, v in cfg["eval"]["judge"].items() if v is not None and k != "samples"}
    keep = {"reference": ("kind", "scoring"), "local": ("kind", "model", "revision", "sha256", "templates", "cache"),
            "http": ("kind", "base_url", "model", "api_key_env", "templates", "temperature", "max_tokens",
                     "concurrency", "timeout", "max_retries", "cache", "reasoning", "revision", "sha256")}[judge["kind"]]
    return {k: v for k, v in judge.items() if k in keep}


def judge_spec(cfg: Mapping[str, Any], backbone: str, mixture: str) -> dict[str, Any] | None:
    """Spec of `python -m mos judge grade` for one backbone x mixture cell (None: nothing to judge)."""
    cell = [(b, m, s) for b, m, s in evaluated_runs(cfg) if (b, m) == (backbone, mixture)]
    if not cell:
        raise ConfigError(f"({backbone}, {mixture}) is not an evaluated cell of the grid")
    names = chat_benchmarks({n for r in cell for n in run_benchmarks(cfg, *r)})
    if not names:
        return None
    return {"judge": judge_config(cfg), "samples": cfg["eval"]["judge"]["samples"],
            "benchmarks": benchmark_files(cfg, sorted(names)),
            "runs": [{"eval_dir": eval_dir(cfg, b, m, s), "model_id": model_id(b, m, s)} for b, m, s in cell]}


def sensitivity_spec(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """Spec of `python -m mos judge sensitivity`: the grid's judged benchmarks' answers re-judged by
    eval.judge (A) and eval.judge_sensitivity.judge (B; default: the pinned SmolLM2 local judge).
    None when the grid has no judged benchmark."""
    from mos.evaluation.sensitivity import DEFAULT_JUDGE_B

    names = chat_benchmarks({n for r in runs(cfg) for n in run_benchmarks(cfg, *r)})
    if not names:
        return None
    section = cfg["eval"]["judge_sensitivity"]
    return {"results": results_dir(cfg), "benchmarks": benchmark_files(cfg, sorted(names)),
            "judge_a": judge_config(cfg), "judge_b": dict(section["judge"] or DEFAULT_JUDGE_B),
            "samples": cfg["eval"]["judge"]["samples"], "max_questions": section["max_questions"],
            "seed": section["seed"]}


def winrate_spec(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """Spec of `python -m mos judge winrate`: every run against the reference mixture's run of the
    same backbone and seed (None when eval.winrate.reference is unset or has no run)."""
    ref, bench = cfg["eval"]["winrate"]["reference"], cfg["eval"]["winrate"]["benchmark"]
    if ref is None:
        return None
    grid = set(evaluated_runs(cfg))
    pairs = []
    for b, m, s in evaluated_runs(cfg):
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


def _bos_entry(cfg: Mapping[str, Any], backbone: str) -> dict[str, str]:
    """`{"bos_token": ...}` for the tokenize, base_ppl and train specs when the backbone overrides its
    BOS token (the authors' Qwen1.5 override, SPEC §5.3); evaluation reads it from the trained model
    folder's saved tokenizer."""
    bos = cfg["backbones"][backbone].get("bos_token")
    return {"bos_token": bos} if bos else {}


def _numerics_entry(cfg: Mapping[str, Any]) -> dict[str, str]:
    """θ0's precision for the base_ppl spec: the training runs' autocast (`precision`) and the dtype
    of the weights their probe sees (`weights`); only where they are not fp32 / float32, so the specs
    of fp32 configs stay as they were."""
    entry = {}
    if cfg["train"]["precision"] != "fp32":
        entry["precision"] = cfg["train"]["precision"]
    if cfg["base_ppl"].get("weights", "float32") != "float32":
        entry["weights"] = cfg["base_ppl"]["weights"]
    return entry


def tokenize_args(cfg: Mapping[str, Any], backbone: str) -> list[str]:
    """Arguments of `python -m mos tokenize` for a backbone."""
    args = ["--model", tokenizer_ref(cfg, backbone), "--max-length", str(cfg["train"]["max_length"])]
    if cfg["backbones"][backbone].get("chat_template"):
        args += ["--chat-template", cfg["backbones"][backbone]["chat_template"]]
    if cfg["backbones"][backbone].get("bos_token"):
        args += ["--bos-token", cfg["backbones"][backbone]["bos_token"]]
    for d in grid_datasets(cfg):
        args += ["--dataset", f"{d}={dataset_path(cfg, d)}"]
    return args


def needs_base_ppl(cfg: Mapping[str, Any], mixture: str) -> bool:
    """Whether the mixture's strategy reads base-model perplexities (MoS / MoSpec with DIFF)."""
    return bool(build_strategy(cfg, mixture).needs_base_ppl)


def diff_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones with at least one run whose strategy needs base perplexities (DIFF)."""
    diff = {m for m in grid_mixtures(cfg) if needs_base_ppl(cfg, m)}  # one strategy build per mixture
    return in_config_order({b for b, m, _ in runs(cfg) if m in diff}, cfg["backbones"])


def base_ppl_jobs(cfg: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(backbone, θ0) pairs whose perplexities some run needs: the θ0 of every DIFF run and of every
    perplexity-study run (Table 6), in config order."""
    diff = {m for m in grid_mixtures(cfg) if needs_base_ppl(cfg, m)}  # one strategy build per mixture
    study = set(ppl_study_cells(cfg))
    wanted = {(b, theta_of(cfg, b, s)) for b, m, s in runs(cfg) if m in diff or (b, m) in study}
    order = {b: i for i, b in enumerate(cfg["backbones"])}
    return sorted(wanted, key=lambda bt: (order[bt[0]], bt[1]))


def base_ppl_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones that need θ0's perplexities: those with a DIFF run or a perplexity-study run (Table 6)."""
    return list(dict.fromkeys(b for b, _ in base_ppl_jobs(cfg)))


def base_ppl_pool_size(cfg: Mapping[str, Any], backbone: str) -> int | None:
    """Examples per dataset in θ0's probe pool: `base_ppl.pool_size` where a DIFF run reads it, else
    only the perplexity study's subsample (never more than `base_ppl.pool_size`)."""
    pool = cfg["base_ppl"]["pool_size"]
    if backbone in diff_backbones(cfg):
        return pool
    return PPL_STUDY_POOL if pool is None else min(pool, PPL_STUDY_POOL)


def base_ppl_spec(cfg: Mapping[str, Any], backbone: str, theta: int) -> dict[str, Any]:
    """Spec of `python -m mos base-ppl`: one θ0 of the backbone over the probe pool of every dataset."""
    if (backbone, int(theta)) not in set(base_ppl_jobs(cfg)):
        raise ConfigError(f"no run of {backbone!r} on θ0 {theta} needs base perplexities; "
                          f"those that do: {base_ppl_jobs(cfg)}")
    return {"model": model_ref(cfg, backbone, theta),
            "datasets": {d: dataset_path(cfg, d) for d in grid_datasets(cfg)},
            "tokenized": tokenized_path(cfg, backbone),
            "max_length": cfg["train"]["max_length"],
            "pool_size": base_ppl_pool_size(cfg, backbone),
            "seed": cfg["base_ppl"]["seed"],
            **_template_entry(cfg, backbone),
            **_bos_entry(cfg, backbone),
            **_numerics_entry(cfg)}


# ---------------------------------------------------------------- Table 1 and the perplexity study (Table 6)

# Examples per dataset whose perplexity the study measures under the fine-tuned PROP. model. They are
# the first PPL_STUDY_POOL of θ0's probe pool in the same random order (mos.training.base_ppl.pool_indices with
# the same seed), so θ0's value of each of them is already in base_ppl/<backbone>/theta<k>.csv.
PPL_STUDY_POOL = 256


def is_proportional(cfg: Mapping[str, Any], mixture: str) -> bool:
    """PROP. (τ = 1): temperature sampling with τ = 1 over every dataset of the grid."""
    mix = cfg["mixtures"][mixture]
    if mix["strategy"] != "temperature" or mixture_datasets(cfg, mixture) != grid_datasets(cfg):
        return False
    return float(getattr(build_strategy(cfg, mixture), "tau", math.nan)) == 1.0


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
    """Spec of `python -m mos base-ppl` for a fine-tuned PROP. model over the study's subsample."""
    if (backbone, mixture, int(seed)) not in set(ppl_study_runs(cfg)):
        raise ConfigError(f"({backbone}, {mixture}, seed {seed}) is not a run of the perplexity study; "
                          f"its cells: {ppl_study_cells(cfg)}")
    base = base_ppl_spec(cfg, backbone, theta_of(cfg, backbone, seed))
    pool = base["pool_size"]
    return {**base, "model": f"{run_dir(cfg, backbone, mixture, seed)}/model",
            "pool_size": PPL_STUDY_POOL if pool is None else min(pool, PPL_STUDY_POOL)}


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
    ap = argparse.ArgumentParser(prog="python -m mos config", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate a config and print the grid size").add_argument("config")
    sub.add_parser("runs", help="list the runs of the grid").add_argument("config")
    sub.add_parser("claims", help="print the resolved claims (what `mos aggregate --claims` takes)").add_argument(
        "config")
    sub.add_parser("sensitivity", help="print the judge-sensitivity report's spec (python -m mos judge sensitivity "
                   "--spec)").add_argument("config")
    spec = sub.add_parser("spec", help="print a job's JSON spec (pass it to the stage with --spec)")
    spec.add_argument("stage", choices=["pretrain", "base_ppl", "train", "eval", "ppl_study"])
    spec.add_argument("config")
    spec.add_argument("backbone")
    spec.add_argument("mixture", nargs="?")
    spec.add_argument("seed", nargs="?", type=int)
    spec.add_argument("--theta", type=int, help="pretrain/base_ppl: which θ0 (a pretrain seed; default: the first)")
    return ap


def _spec_for(args: argparse.Namespace, cfg: Mapping[str, Any]) -> dict[str, Any]:
    if args.stage in ("pretrain", "base_ppl"):
        theta = thetas(cfg, args.backbone)[0] if args.theta is None else args.theta
        return (pretrain_spec if args.stage == "pretrain" else base_ppl_spec)(cfg, args.backbone, theta)
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
        elif args.command == "claims":
            print(spec_json(claims_spec(cfg)))
        elif args.command == "sensitivity":
            spec = sensitivity_spec(cfg)
            if spec is None:
                raise ConfigError(f"{args.config}: no judged benchmark (testbed_chat, mt_bench) in the grid")
            print(spec_json(spec))
        else:
            print(json.dumps(_spec_for(args, cfg), indent=2, ensure_ascii=False, allow_nan=False))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
