"""lm-eval's own GSM8K and MATH tasks through `mos.evaluation.evaluate` (local copies with the hub's columns),
their offline errors, and the evaluation config checks for judges and win rates."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mos.evaluation.builtin_tasks import builtin_config, builtin_task_configs
from mos.evaluation.evaluate import SpecError, load_data, validate_spec
from mos.pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def gsm8k_file(path: Path, n: int = 8) -> Path:
    rows = [{"question": f"Tom has {a} apples and gets {a + 1} more. How many apples?", "answer":
             f"{a} + {a + 1} = {2 * a + 1}\n#### {2 * a + 1}"} for a in range(1, n + 1)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def math_file(path: Path) -> Path:
    rows = [{"problem": f"What is ${a}+{a}$?", "solution": f"${a}+{a}=\\boxed{{{2 * a}}}$.", "type": "Prealgebra",
             "level": "Level 1"} for a in range(1, 5)]
    rows += [{"problem": f"Solve $x-{a}=0$.", "solution": f"$x=\\boxed{{{a}}}$.", "type": "Algebra",
              "level": "Level 1"} for a in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_builtin_configs_are_lm_evals_own_with_our_shots(tmp_path):
    cfg = builtin_task_configs("gsm8k", "openai/gsm8k", 5)[0]
    assert cfg["dataset_path"] == "openai/gsm8k" and cfg["num_fewshot"] == 5
    assert [f["name"] for f in cfg["filter_list"]] == ["strict-match", "flexible-extract"]
    local = builtin_task_configs("math", str(math_file(tmp_path / "m.jsonl")), 2)
    assert [c["task"] for c in local] == ["hendrycks_math_algebra", "hendrycks_math_prealgebra"]
    assert callable(builtin_config("hendrycks_math_algebra")["process_results"])
    with pytest.raises(KeyError, match="unknown built-in benchmark"):
        builtin_task_configs("aime", "x")


def test_gsm8k_and_math_run_through_mos_evaluate(tiny_model_dir, tmp_path):
    from mos.evaluation.evaluate import main

    spec = {"model": str(tiny_model_dir), "math_fewshot": 2,
            "benchmarks": {"gsm8k": str(gsm8k_file(tmp_path / "g.jsonl")), "math": str(math_file(tmp_path / "m.jsonl"))}}
    out = tmp_path / "eval"
    assert main(["--spec", json.dumps(spec), "--out", str(out)]) == 0
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {(r["benchmark"], r["scope"], r["name"], r["metric"]): r for r in rows}
    assert by[("gsm8k", "overall", "all", "exact_match")]["n_items"] == "8"
    assert ("gsm8k", "overall", "all", "exact_match_flexible") in by
    assert by[("math", "overall", "all", "exact_match")]["n_items"] == "7"
    assert {k[2] for k in by if k[0] == "math" and k[1] == "subject"} == {"algebra", "prealgebra"}
    samples = (out / "lm_eval" / "samples_gsm8k.jsonl").read_text().splitlines()
    prompt = json.loads(samples[0])["arguments"]
    assert prompt[0][0].count("Question:") == 6  # 5 shots + the question: lm-eval's own 5-shot prompt


def test_local_copies_need_more_problems_than_shots_and_the_hub_names_itself(tmp_path):
    spec = validate_spec({"model": str(tmp_path), "benchmarks": {"gsm8k": str(gsm8k_file(tmp_path / "g.jsonl", 5))}})
    with pytest.raises(SpecError, match="5-shot evaluation of a local file needs more than 5 problems"):
        load_data(spec)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(Exception, match=r"bad.jsonl:1: missing key\(s\) answer"):
        load_data(validate_spec({"model": str(tmp_path), "benchmarks": {"gsm8k": str(bad)}}))
    with pytest.raises(SpecError, match="needs the hub dataset openai/gsm8k"):
        load_data(validate_spec({"model": str(tmp_path), "benchmarks": {"gsm8k": "openai/gsm8k"}}))


def test_chat_specs_carry_generation_settings_and_a_safe_model_id(tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text('{"question_id": 1, "turns": ["hi"]}\n')
    spec = validate_spec({"model": str(tmp_path), "benchmarks": {"mt_bench": str(q)}, "model_id": "a__b__seed0"})
    assert spec["generation"]["backend"] == "transformers" and spec["model_id"] == "a__b__seed0"
    with pytest.raises(SpecError, match="spec.generation: .*unknown key"):
        validate_spec({"model": str(tmp_path), "benchmarks": {"mt_bench": str(q)}, "generation": {"top_k": 3}})
    with pytest.raises(SpecError, match="model_id"):
        validate_spec({"model": str(tmp_path), "benchmarks": {"mt_bench": str(q)}, "model_id": "../x"})


def _config(**eval_section):
    cfg = load_config(ROOT / "config" / "test.yaml")
    raw = {k: v for k, v in cfg.items()}
    raw["eval"] = {**cfg["eval"], **eval_section}
    return raw


def test_eval_config_checks_judges_and_winrates():
    with pytest.raises(ConfigError, match="mt_bench needs an LLM judge"):
        load_config(_config(benchmarks=["testbed_mc", "mt_bench"]))
    with pytest.raises(ConfigError, match="eval.winrate.reference: unknown mixture 'unifrom'"):
        load_config(_config(winrate={"reference": "unifrom", "benchmark": "testbed_chat"}))
    with pytest.raises(ConfigError, match="api_key"):
        load_config(_config(judge={"kind": "http", "base_url": "http://x/v1", "model": "m", "api_key": "sk-1"}))
    with pytest.raises(ConfigError, match="kind http needs base_url and model"):
        load_config(_config(judge={"kind": "http"}))
    ok = load_config(_config(benchmarks=["testbed_mc", "mt_bench"],
                             judge={"kind": "http", "base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4",
                                    "api_key_env": "OPENAI_API_KEY"}, winrate={"reference": None}))
    from mos.pipeline.grid import runs
    from mos.pipeline.specs import judge_config, judge_spec, winrate_spec

    # max_tokens unset: the judge picks it (512, or 4096 for a reasoning model's max_completion_tokens)
    assert judge_config(ok) == {"kind": "http", "base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4",
                                "api_key_env": "OPENAI_API_KEY", "temperature": 0.0,
                                "concurrency": 8, "timeout": 60, "max_retries": 6}
    b, m, s = runs(ok)[0]
    spec = judge_spec(ok, b, m)
    assert list(spec["benchmarks"]) == ["mt_bench"] and spec["runs"][0]["model_id"] == f"{b}__{m}__seed{s}"
    assert winrate_spec(ok) is None  # no reference mixture: no win rates


def test_winrate_spec_pairs_each_run_with_the_reference_of_its_backbone_and_seed():
    from mos.pipeline.specs import winrate_spec

    cfg = load_config(ROOT / "config" / "test.yaml")
    spec = winrate_spec(cfg)
    pairs = {(p["backbone"], p["mixture"], p["seed"]): p["reference"]["model_id"] for p in spec["pairs"]}
    assert pairs == {(b, m, 0): f"{b}__uniform__seed0" for b in ("tiny-qwen", "tiny-llama")
                     for m in ("proportional", "mos_diff_ema")}
