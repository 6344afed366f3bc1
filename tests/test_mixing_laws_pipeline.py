"""The mixing laws and mSFT in the pipeline: `replicas` expanding a mixture into a family of random static
mixtures (the RegMix proxies, the headroom design), `proxy_run` mixtures at their own budget, the
dependency checks (MixMin's single-dataset proxies), the job specs, and the workflow's DAG
(`snakemake -n`; slow: the runs for real, with the proxies' examples counted).

    .venv/bin/pytest tests/test_mixing_laws_pipeline.py -q
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mos.pipeline import grid as G
from mos.pipeline import specs as S
from mos.pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "laws.yaml"


def small_config() -> dict[str, Any]:
    """config/test.yaml on one backbone with RegMix (3 proxies at half the budget), MixMin (the four
    single-skill runs) and mSFT in the grid, naming the proxy family by its name."""
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text(encoding="utf-8"))
    cfg["backbones"] = {"tiny-llama": cfg["backbones"]["tiny-llama"]}
    single = {f"{d.lower()}_only": {"strategy": "temperature", "tau": 1, "datasets": [d]} for d in cfg["datasets"]}
    cfg["mixtures"] = {
        "uniform": cfg["mixtures"]["uniform"],
        "proxy": {"strategy": "dirichlet", "replicas": 3, "proxy_run": True, "validation_size": 4,
                  "train": {"steps": 10}},
        "regmix": {"strategy": "regmix", "proxies": "proxy", "n_proxies": 3, "regressor": "linear",
                   "validation_size": 4, "n_candidates": 1000, "top_k": 10},
        **single,
        "mixmin": {"strategy": "mixmin", "validation_size": 4, "require_held_out": False,
                   "proxies": {d: f"{d.lower()}_only" for d in cfg["datasets"]}},
        "msft": {"strategy": "msft", "validation_size": 4, "eval_every": 4, "rollout_steps": 8},
    }
    cfg["grid"] = [{"backbones": "all", "mixtures": ["uniform", "proxy", "regmix", *single, "mixmin", "msft"]}]
    return cfg


def error_of(cfg: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg, SOURCE)
    return str(info.value)


def test_replicas_expand_into_a_family_the_grid_and_the_specs_see():
    cfg = load_config(small_config(), SOURCE)
    assert [m for m in cfg["mixtures"] if m.startswith("proxy")] == ["proxy_0", "proxy_1", "proxy_2"]
    assert [cfg["mixtures"][f"proxy_{k}"]["draw"] for k in range(3)] == [0, 1, 2]
    assert "replicas" not in cfg["mixtures"]["proxy_1"]
    assert G.grid_mixtures(cfg)[:4] == ["uniform", "proxy_0", "proxy_1", "proxy_2"]
    assert len(G.runs(cfg)) == 1 + 3 + 1 + 4 + 2
    assert load_config(cfg, SOURCE)["mixtures"] == cfg["mixtures"]  # expanding twice changes nothing
    spec = S.train_spec(cfg, "tiny-llama", "proxy_2", 0)
    assert spec["mixture"]["params"]["draw"] == 2 and spec["train"]["steps"] == 10
    assert S.train_spec(cfg, "tiny-llama", "regmix", 0)["runs"] == {
        f"proxy_{k}": f"results/test/runs/tiny-llama/proxy_{k}/seed0" for k in range(3)}
    assert S.train_spec(cfg, "tiny-llama", "mixmin", 0)["runs"]["Medicine"] == \
        "results/test/runs/tiny-llama/medicine_only/seed0"
    # `mixtures: all` sees the expanded names; a draw offset moves the whole family
    raw = small_config()
    raw["grid"] = [{"backbones": "all", "mixtures": "all"}]
    raw["mixtures"]["proxy"]["draw"] = 10
    cfg = load_config(raw, SOURCE)
    assert [cfg["mixtures"][f"proxy_{k}"]["draw"] for k in range(3)] == [10, 11, 12]
    assert {"proxy_0", "proxy_2"} <= set(G.grid_mixtures(cfg)) and "proxy" not in G.grid_mixtures(cfg)


def test_the_default_config_defines_the_mixing_laws_and_a_grid_block_naming_them_works():
    raw = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    raw["grid"].append({"backbones": ["tiny-llama"], "seeds": [0], "mixtures": [
        "regmix_proxy", "regmix", "mixmin", "msft", "math_only", "medicine_only", "general_only", "nlp_only"]})
    cfg = load_config(raw, "config/config.yaml")
    assert {"regmix_proxy_0", "regmix_proxy_15", "regmix", "mixmin", "msft"} <= set(G.grid_mixtures(cfg))
    assert S.train_spec(cfg, "tiny-llama", "regmix_proxy_15", 0)["train"]["steps"] == 150
    assert len(S.train_spec(cfg, "tiny-llama", "regmix", 0)["runs"]) == 16


def test_replica_errors_name_the_key():
    bad = small_config()
    bad["mixtures"]["proxy"]["strategy"] = "temperature"
    assert "laws.yaml: mixtures.proxy.replicas: strategy 'temperature' has no `draw` parameter" in error_of(bad)
    bad = small_config()
    bad["mixtures"]["proxy"]["replicas"] = 0
    assert "laws.yaml: mixtures.proxy.replicas: must be >= 1, got 0" in error_of(bad)
    bad = small_config()
    bad["mixtures"]["proxy_1"] = {"strategy": "temperature"}
    assert "mixtures.proxy.replicas: the replica name(s) 'proxy_1' are mixtures already" in error_of(bad)
    bad = small_config()
    bad["mixtures"]["proxy"]["draw"] = "one"
    assert "mixtures.proxy.draw: expected an integer (the first replica's draw), got 'one'" in error_of(bad)
    bad = small_config()
    bad["mixtures"]["proxy"]["alpha"] = -1
    assert "mixtures.proxy_0: alpha must be a positive number, got -1" in error_of(bad)


def test_proxy_runs_are_left_out_of_the_budget_check_and_dependencies_are_checked():
    bad = small_config()
    del bad["mixtures"]["proxy"]["proxy_run"]
    assert "unequal training budgets" in error_of(bad) and "80 examples (10 steps x 8): proxy_0" in error_of(bad)
    bad = small_config()
    bad["grid"][0]["mixtures"].remove("proxy")
    assert "mixtures.regmix: the strategy's proxy_0 mixture 'proxy_0' must be in the grid wherever 'regmix' is" \
        in error_of(bad)
    bad = small_config()
    bad["mixtures"]["regmix"]["n_proxies"] = 4
    assert "mixtures.regmix: the strategy's proxy_3 mixture 'proxy_3' is not a mixture" in error_of(bad)
    bad = small_config()
    bad["mixtures"]["mixmin"]["proxies"]["NLP"] = "general_only"
    assert "mixtures.mixmin: the strategy's NLP mixture 'general_only' trains on ['General'], not on ['NLP']" \
        in error_of(bad)
    bad = small_config()
    bad["mixtures"]["regmix"]["datasets"] = ["Mathematics", "NLP"]
    assert "the strategy's proxy_0 mixture 'proxy_0' trains on ['Mathematics', 'Medicine', 'General', 'NLP'], " \
           "not on ['Mathematics', 'NLP']" in error_of(bad)


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def write_config(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    path = tmp_path / "laws.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def test_dry_run_trains_the_proxies_before_their_readers(tmp_path):
    path = write_config(tmp_path, small_config())
    target = "results/test/runs/tiny-llama/regmix/trained.json"
    proc = snakemake("-n", "-p", "--cores", "1", "--configfile", str(path), "--directory", str(tmp_path),
                     target, "results/test/runs/tiny-llama/mixmin/trained.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    trains = [line for line in proc.stdout.splitlines() if " -m mos train " in line]
    outs = [line.split("--out ")[1].split()[0].strip("'") for line in trains]
    assert sorted(o.split("/")[-2] for o in outs) == sorted(
        ["proxy_0", "proxy_1", "proxy_2", "regmix", "mathematics_only", "medicine_only", "general_only", "nlp_only",
         "mixmin"])
    for reader, deps in (("regmix", ("proxy_0", "proxy_1", "proxy_2")), ("mixmin", ("nlp_only",))):
        position = {o.split("/")[-2]: k for k, o in enumerate(outs)}
        assert all(position[d] < position[reader] for d in deps)


@pytest.mark.slow
def test_the_mixing_laws_and_msft_run_through_the_workflow(tmp_path):
    """Every run of the small config for real (tiny budgets): RegMix reads its three proxies, MixMin its four
    single-skill runs, both report their examples as extra examples; mSFT evaluates every 4 steps."""
    cfg = small_config()
    path = write_config(tmp_path, cfg)
    targets = [f"results/test/runs/tiny-llama/{m}/trained.json" for m in ("regmix", "mixmin", "msft")]
    proc = snakemake("--cores", "2", "--configfile", str(path), "--directory", str(tmp_path), *targets, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = tmp_path / "results" / "test" / "runs" / "tiny-llama"
    regmix = json.loads((runs / "regmix" / "seed0" / "run.json").read_text())
    assert regmix["budget"]["extra_training_examples"] == 3 * 10 * 8
    report = regmix["strategy_report"]
    assert [p["role"] for p in report["proxies"]] == ["proxy_0", "proxy_1", "proxy_2"]
    assert regmix["final_weights"] == pytest.approx(report["weights"])
    proxy = json.loads((runs / "proxy_1" / "seed0" / "run.json").read_text())
    assert report["proxies"][1]["mixture"] == pytest.approx(proxy["final_weights"])
    assert proxy["validation_sizes"] == dict.fromkeys(cfg["datasets"], 4)
    mixmin = json.loads((runs / "mixmin" / "seed0" / "run.json").read_text())
    assert mixmin["budget"]["extra_training_examples"] == 4 * 20 * 8
    assert mixmin["final_weights"] == pytest.approx(mixmin["strategy_report"]["weights"])
    assert {p["held_out_targets"] for p in mixmin["strategy_report"]["proxies"].values()} == {False}
    msft = json.loads((runs / "msft" / "seed0" / "run.json").read_text())
    assert [e["step"] for e in msft["strategy_report"]["evaluations"]] == [0, 4, 8, 12, 16]
    assert not (runs / "msft" / "seed0" / "snapshots").exists()
    assert copy.deepcopy(msft["budget"]["training_steps"]) == 20
