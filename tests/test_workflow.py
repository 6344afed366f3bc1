"""Tests of the Snakemake workflow: dry runs of the shipped configs, and the whole pipeline end to
end on config/test.yaml (about a minute on 2 cores) followed by a rerun that must have nothing to do.

    pytest tests/test_workflow.py -q
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "Snakefile"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **OFFLINE})


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def dry_run(*args: str, workdir: Path) -> dict[str, int]:
    """Dry run in an empty working directory (so outputs of a real run in the repo don't count)."""
    return job_counts(dry_run_output(*args, workdir=workdir))


def dry_run_output(*args: str, workdir: Path) -> str:
    if "--configfile" not in args:
        args = ("--configfile", str(ROOT / "config" / "config.yaml"), *args)
    proc = snakemake("-n", "--cores", "1", "--directory", str(workdir), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def train_commands(output: str) -> list[str]:
    """The shell commands of the train jobs of a `snakemake -n -p` output."""
    return [line for line in output.splitlines() if " -m mos train " in line]


def test_dry_run_default_config(tmp_path: Path) -> None:
    jobs = dry_run(workdir=tmp_path)
    # one train job and one evaluation job per backbone x mixture cell (all its seeds, one process each):
    # the six primary cells (12 θ0s) and the thirteen others (2): tests/test_config.py counts the runs
    assert jobs["train"] == jobs["evaluate"] == 6 + 13
    assert jobs["pretrain"] == 12  # one θ0 per run seed of tiny-llama
    assert jobs["base_ppl"] == 12  # DIFF's perplexities, for every θ0 a DIFF run starts from
    assert jobs["tokenize"] == 1 and jobs["dataset"] == 4
    assert jobs["testbed"] == jobs["tokenizer"] == jobs["aggregate"] == 1


def test_dry_run_paper_config_shows_the_real_grid(tmp_path: Path) -> None:
    """The paper's grid offline; a job with 4 GPUs trains under accelerate launch + DeepSpeed."""
    out = dry_run_output("--configfile", str(ROOT / "config" / "paper.yaml"), "-p",
                         "--set-resources", "train:gpu=4", "--set-threads", "train=32", workdir=tmp_path)
    jobs = job_counts(out)
    # Table 2: 3 backbones x 9 rows, Table 3: 4 priors, Table 5: 2 MoSpec + math-only; beyond the
    # paper: 3 backbones x the field's 7 mixtures and DoReMi's held-out reference (issues 12, 19), 4 variants
    # on LLaMA-3-8B (issue 19); 1 seed: one train job per backbone x mixture cell
    assert jobs["train"] == 62
    assert jobs["evaluate"] == 62
    assert jobs["dataset"] == 4 and jobs["tokenize"] == jobs["base_ppl"] == 3 and jobs["aggregate"] == 1
    for rule in ("pretrain", "testbed", "tokenizer", "mmlu_dev"):  # nothing of the default config leaks in
        assert rule not in jobs
    for method in ("doremi", "doremi_two_stage", "odm", "dynamixsft", "dynamixsft_fwd", "aioli", "hbo"):
        for backbone in ("qwen1.5-0.5b", "gemma-2b", "llama-3-8b"):
            assert f"results/paper_grid/runs/{backbone}/{method}/trained.json" in out
            assert f"--out results/paper_grid/runs/{backbone}/{method}/seed42 " in out
    # DoReMi's reference (UNI. holding out its examples) and the two-stage variant's proxy (online DoReMi) are
    # inputs of their jobs
    deps = {}
    for inputs, outputs in re.findall(r"input: (.*)\n\s+output: (.*)", out):
        for cell in re.findall(r"results/paper_grid/runs/(\S+?)/trained\.json", outputs):
            deps[cell] = inputs
    assert "results/paper_grid/runs/gemma-2b/uniform_heldout/trained.json" in deps["gemma-2b/doremi"]
    assert "results/paper_grid/runs/gemma-2b/doremi/trained.json" in deps["gemma-2b/doremi_two_stage"]
    commands = train_commands(out)
    assert len(commands) == 62
    for cmd in commands:
        assert cmd.startswith("Shell command: accelerate launch --config_file ")
        assert "config/accelerate/deepspeed_zero2.yaml --num_processes 4 --num_machines 1 " in cmd
    assert "--chat-template vicuna" in out  # the tokenization cache uses the forced template


def test_training_is_a_plain_process_without_gpus(tmp_path: Path) -> None:
    commands = train_commands(dry_run_output("--configfile", str(ROOT / "config" / "test.yaml"), "-p",
                                             workdir=tmp_path))
    assert commands and all(c.startswith("Shell command: python -m mos train ") for c in commands)
    one_gpu = train_commands(dry_run_output("--configfile", str(ROOT / "config" / "test.yaml"), "-p",
                                            "--set-resources", "train:gpu=1", workdir=tmp_path))
    assert one_gpu and all(c.startswith("Shell command: python -m mos train ") for c in one_gpu)


def test_dry_run_config_override_from_the_command_line(tmp_path: Path) -> None:
    cfg = ROOT / "config" / "test.yaml"
    base = dry_run_output("--configfile", str(cfg), "-p", workdir=tmp_path)
    more = dry_run_output("--configfile", str(cfg), "-p", "--config", "seeds=[0,1,2]", workdir=tmp_path)
    # the same train jobs (one per cell), each now training three seeds instead of the config's
    assert job_counts(more)["train"] == job_counts(base)["train"]
    assert more.count("--out results/test/runs/") == 3 * base.count("--out results/test/runs/")


def test_invalid_config_stops_before_any_job(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config" / "test.yaml").read_text(encoding="utf-8").replace("lr: 2.0e-3", "lr: abc"),
                   encoding="utf-8")
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    assert "train.lr: expected number, got 'abc'" in proc.stdout + proc.stderr


def test_end_to_end_on_the_test_config(tmp_path: Path) -> None:
    """The whole pipeline in a scratch folder, then a second run that has nothing to do."""
    args = ("--cores", "2", "--configfile", str(ROOT / "config" / "test.yaml"), "--directory", str(tmp_path))
    proc = snakemake(*args, timeout=900)  # its wall time is measured by scripts/benchmark_pipeline.py, not here
    logs = "\n".join(f"== {p}\n{p.read_text(errors='replace')[-2000:]}" for p in (tmp_path / "logs").rglob("*.log"))
    assert proc.returncode == 0, proc.stderr[-5000:] + logs
    exp = tmp_path / "results" / "test"
    for name in ("runs", "metrics", "train_log", "trajectory"):
        assert (exp / "summary" / f"{name}.csv").stat().st_size > 0
    assert (exp / "tables" / "table2_main_testbed_mc.md").exists()
    assert (exp / "figures" / "fig3_loss.png").exists() and (exp / "figures" / "fig3_loss.pdf").exists()
    assert len(list((exp / "runs").glob("*/*/seed0/model"))) == 6
    assert (tmp_path / "resources" / "test" / "base_ppl" / "tiny-llama" / "theta0.csv").exists()
    assert (exp / "figures" / "fig2_weights.png").exists()
    again = snakemake("-n", *args)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout


@pytest.mark.slow
def test_doremi_trains_after_its_reference_and_the_two_stage_after_its_proxy(tmp_path: Path) -> None:
    """The DAG edges run for real: asking for the two-stage DoReMi run trains UNI. holding out DoReMi's
    examples, then online DoReMi (reading that model on the held-out examples), then the two-stage run
    (reading DoReMi's trajectory)."""
    cfg = yaml.safe_load((ROOT / "config" / "test.yaml").read_text(encoding="utf-8"))
    cfg["backbones"] = {"tiny-llama": cfg["backbones"]["tiny-llama"]}
    cfg["mixtures"] = {"uniform": cfg["mixtures"]["uniform"],
                       "uniform_heldout": {"strategy": "temperature_heldout", "validation_size": 2},
                       "doremi": {"strategy": "doremi", "reference": "uniform_heldout", "validation_size": 2,
                                  "update_every": 5, "examples": 2},
                       "doremi_two_stage": {"strategy": "doremi_two_stage", "proxy": "doremi"}}
    cfg["eval"]["winrate"] = {"reference": "uniform", "benchmark": "testbed_chat"}
    path = tmp_path / "doremi.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    target = "results/test/runs/tiny-llama/doremi_two_stage/trained.json"
    proc = snakemake("--cores", "2", "--configfile", str(path), "--directory", str(tmp_path), target, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = tmp_path / "results" / "test" / "runs" / "tiny-llama"
    two = json.loads((runs / "doremi_two_stage" / "seed0" / "run.json").read_text())
    doremi = json.loads((runs / "doremi" / "seed0" / "run.json").read_text())
    assert doremi["spec"]["runs"] == {"reference": "results/test/runs/tiny-llama/uniform_heldout/seed0"}
    assert two["final_weights"] == pytest.approx(doremi["strategy_report"]["average_weights"])
    assert two["budget"]["extra_training_examples"] == 2 * 20 * 8  # the proxy's and the reference's examples
