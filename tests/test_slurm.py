"""The SLURM profile (profiles/slurm): its per-rule settings, and the tiny grid run through a real
single-node SLURM cluster started on this machine from Debian's packages.

    pytest tests/test_slurm.py -q                  # the profile checks (seconds)
    make test-slow                                 # installs the `slurm` extra, runs every slow test
    pytest -m slurm tests/test_slurm.py -s         # only the cluster run (as root; ~3-5 min on 2 cores)

The cluster test (marked `slow` and `slurm`) starts munged + slurmctld + slurmd with
scripts/slurm/start-local-cluster.sh, runs config/test.yaml up to the summary CSVs (every run
trained and evaluated) in a scratch folder through a CPU-only copy of profiles/slurm (each GPU
request replaced by the CPU-only request of the same task geometry: the tasks it starts, on its
nodes; CPUs and memory shrunk to fit this machine; every rule's runtime and all other settings
kept), checks the outputs, and checks that every job went through sbatch with its rule's
resources (squeue's record of finished jobs, the plugin's job logs). It
skips when not root, when the packages cannot be installed, when /etc/slurm/slurm.conf belongs to
a real cluster or when snakemake-executor-plugin-slurm is missing; the cluster is always stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
START = ROOT / "scripts" / "slurm" / "start-local-cluster.sh"
STOP = ROOT / "scripts" / "slurm" / "stop-local-cluster.sh"
MARKER = "# written by mos scripts/slurm/start-local-cluster.sh"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
GPU_RULES = {"base_ppl", "train", "evaluate"}
SKIP_CODES = {3: "not root", 4: "the SLURM packages are missing and apt-get could not install them",
              5: "/etc/slurm/slurm.conf belongs to another cluster"}
RUN_LIMIT = 1800  # seconds for the tiny grid through SLURM (~40 jobs, 2 at a time); a hung snakemake ignores SIGTERM


def profile() -> dict[str, Any]:
    return yaml.safe_load(PROFILE.read_text(encoding="utf-8"))


def workflow_rules(configfile: Path) -> set[str]:
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--list-rules",
                           "--configfile", str(configfile)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **OFFLINE})
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = {line.split()[0] for line in proc.stdout.splitlines() if re.match(r"^[A-Za-z_]\w*\s*$", line)}
    return listed - {"all", "prefetch"}  # targets that run nothing themselves


# ---------------------------------------------------------------- the profile itself (fast)


def test_every_rule_has_cpus_memory_and_runtime() -> None:
    rules = workflow_rules(ROOT / "config" / "config.yaml") | workflow_rules(ROOT / "config" / "paper.yaml")
    prof = profile()
    missing = sorted(r for r in rules if r not in prof["set-resources"] or r not in prof["set-threads"])
    assert not missing, f"add these rules to set-threads and set-resources in {PROFILE.relative_to(ROOT)}: {missing}"
    for rule in rules:
        res = prof["set-resources"][rule]
        assert res.get("mem_mb", 0) > 0 and res.get("runtime", 0) > 0, rule
        assert prof["set-threads"][rule] >= 1, rule


def test_gpu_rules_and_the_settings_that_keep_the_workflow_from_hanging() -> None:
    prof = profile()
    assert prof["executor"] == "slurm"
    assert prof["slurm-status-command"] == "squeue"  # sacct without slurmdbd: the workflow waits forever
    assert 1 <= prof["slurm-init-seconds-before-status-checks"] <= 40
    gpu_rules = {rule for rule, res in prof["set-resources"].items() if res.get("gpu")}
    assert gpu_rules >= GPU_RULES
    train = prof["set-resources"]["train"]
    assert train["gpu"] > 1 and train["nodes"] == 1  # multi-GPU through accelerate launch, on one node
    assert prof["set-threads"]["train"] % train["gpu"] == 0  # CPUs split evenly between the processes
    assert "gpu" not in prof.get("default-resources", {})  # CPU jobs never ask for a GPU


def test_local_profile_keeps_every_rule_setting_but_gpus_cpus_and_memory() -> None:
    prof, local = profile(), local_profile(profile(), cpus=2)
    assert set(local["set-resources"]) == set(prof["set-resources"])
    for rule, res in prof["set-resources"].items():
        mine = local["set-resources"][rule]
        assert mine["runtime"] == res["runtime"] and mine.get("nodes") == res.get("nodes"), rule
        assert "gpu" not in mine and "tasks_per_gpu" not in mine
        assert mine.get("tasks", 1) == (res.get("tasks_per_gpu", 1) * res.get("gpu", 1) or 1), rule
        assert local["set-threads"][rule] <= prof["set-threads"][rule]
    assert local["slurm-status-command"] == "squeue" and local["executor"] == "slurm"


def test_gpu_requests_become_cpu_requests_of_the_same_task_geometry() -> None:
    """Not dropped: a GPU request that starts a task per GPU is submitted as that many tasks."""
    assert cpu_equivalent({"gpu": 8, "nodes": 1, "tasks_per_gpu": 0, "mem_mb": 9}) == {"nodes": 1, "mem_mb": 9,
                                                                                       "tasks": 1}
    assert cpu_equivalent({"gpu": 8, "tasks_per_gpu": 1, "runtime": 5}) == {"runtime": 5, "tasks": 8}
    assert cpu_equivalent({"mem_mb": 9}) == {"mem_mb": 9}
    with pytest.raises(ValueError, match="tasks_per_gpu"):
        cpu_equivalent({"gpu": 2})


# ---------------------------------------------------------------- a real cluster


def cpu_equivalent(res: dict[str, Any]) -> dict[str, Any]:
    """A rule's resources with its GPU request replaced by the CPU-only request of the same geometry:
    the tasks the GPU request starts (tasks_per_gpu x GPUs; one task when tasks_per_gpu is 0) on the
    same nodes, each task with the rule's CPUs. A GPU rule must state tasks_per_gpu (plugin versions
    disagree on its default)."""
    gpus = res.get("gpu", 0)
    if not gpus:
        return dict(res)
    if "tasks_per_gpu" not in res:
        raise ValueError(f"a GPU rule must state tasks_per_gpu (the tasks each GPU starts): {res}")
    out = {k: v for k, v in res.items() if k not in {"gpu", "gpu_model", "tasks_per_gpu"}}
    out["tasks"] = res["tasks_per_gpu"] * gpus or 1
    return out


def local_profile(prof: dict[str, Any], cpus: int) -> dict[str, Any]:
    """profiles/slurm for a CPU-only one-node test cluster: GPU requests as CPU requests of the same
    task geometry, CPUs and memory shrunk to fit (two jobs side by side), status checks from the
    first second, successful jobs' logs kept."""
    out = {**prof, "jobs": 4, "latency-wait": 5, "keep-going": False, "retries": 0,
           "slurm-init-seconds-before-status-checks": 1, "slurm-keep-successful-logs": True}
    per_job_cpus = max(1, cpus // 2)
    out["set-threads"] = {rule: min(n, per_job_cpus) for rule, n in prof["set-threads"].items()}
    strip = {"slurm_partition", "slurm_account"}
    out["set-resources"] = {rule: {k: (min(v, 1000) if k == "mem_mb" else v) for k, v in cpu_equivalent(res).items()
                                   if k not in strip} for rule, res in prof["set-resources"].items()}
    out["default-resources"] = {k: (min(v, 1000) if k == "mem_mb" else v)
                                for k, v in prof.get("default-resources", {}).items() if k not in strip}
    return out


def minutes(limit: str) -> int:
    """squeue's time limit ([D-]HH:MM:SS or MM:SS) in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 1440 + parts[0] * 60 + parts[1] + (parts[2] > 0)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM cluster, stopped afterwards (skip where one cannot be started)."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (writes /etc/slurm/slurm.conf, starts the daemons)")
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and MARKER not in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        pytest.skip("/etc/slurm/slurm.conf belongs to a real cluster; not touching it")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip('snakemake-executor-plugin-slurm is not installed: `make test-slow` or pip install -e ".[slurm]"')
    # not under pytest's tmp folder: it is private to root (0700), and slurmctld runs as `slurm`
    state = Path(tempfile.mkdtemp(prefix="mos-slurm-", dir="/tmp"))
    state.chmod(0o755)
    try:
        start = subprocess.run(["bash", str(START), str(state)], capture_output=True, text=True, timeout=600)
        if start.returncode in SKIP_CODES:
            pytest.skip(f"no local SLURM cluster: {SKIP_CODES[start.returncode]}\n{start.stderr[-1000:]}")
        assert start.returncode == 0, f"start-local-cluster failed:\n{start.stdout}\n{start.stderr}"
        yield state
    finally:
        subprocess.run(["bash", str(STOP), str(state)], capture_output=True, text=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def finished_jobs() -> list[dict[str, str]]:
    """Every job squeue still knows (MinJobAge keeps finished ones for an hour)."""
    fmt = "%i|%T|%k|%l|%C|%m"
    proc = subprocess.run(["squeue", "--states=all", "--noheader", f"--format={fmt}"], capture_output=True, text=True,
                          timeout=60, check=True)
    keys = ["id", "state", "comment", "limit", "cpus", "mem"]
    return [dict(zip(keys, line.split("|"), strict=True)) for line in proc.stdout.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.slurm
def test_tiny_grid_runs_through_slurm_with_each_rules_resources(slurm_cluster: Path, tmp_path: Path) -> None:
    cpus = os.cpu_count() or 1
    local = local_profile(profile(), cpus)
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(local, sort_keys=False), encoding="utf-8")
    work = tmp_path / "work"
    # Everything up to the summary CSVs (data, backbones, every run trained and evaluated,
    # aggregation): the analysis scripts after it only read those CSVs (test_workflow runs them).
    cmd = ["timeout", "-k", "10", str(RUN_LIMIT), sys.executable, "-m", "snakemake",
           "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work), "--until", "aggregate",
           "--configfile", str(ROOT / "config" / "test.yaml"), "--workflow-profile", str(tmp_path / "profile")]
    env = {**os.environ, **OFFLINE, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    began = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT + 60, env=env)
    seconds = time.monotonic() - began
    print(f"\nsnakemake through SLURM: {seconds:.0f} s, exit {proc.returncode}")
    if proc.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text(errors='replace')[-1500:]}"
                         for p in sorted((work / ".snakemake" / "slurm_logs").rglob("*.log"))[-4:])
        pytest.fail(f"snakemake exited {proc.returncode} after {seconds:.0f} s "
                    f"({'timed out' if proc.returncode in (124, 137) else 'failed'}):\n"
                    f"{proc.stderr[-5000:]}\n{logs}")

    exp = work / "results" / "test"
    for name in ("runs", "metrics", "train_log", "trajectory"):
        assert (exp / "summary" / f"{name}.csv").stat().st_size > 0
    assert len(list((exp / "runs").glob("*/*/seed0/model/model.safetensors"))) == 6
    assert len(list((exp / "runs").glob("*/*/metrics.csv"))) == 6

    # every job of the workflow but the local rules (`all`, the downloads) was an sbatch job that
    # completed, with its rule's resources
    jobs = [j for j in finished_jobs() if j["comment"].startswith("rule_")]
    by_rule: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        by_rule.setdefault(re.match(r"rule_(\w+?)(_wildcards|$)", job["comment"])[1], []).append(job)
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", proc.stdout + proc.stderr)
    assert submitted and {j["id"] for j in jobs} >= set(submitted)
    assert all(j["state"] == "COMPLETED" for j in jobs), [j for j in jobs if j["state"] != "COMPLETED"]
    assert len(by_rule["train"]) == 6 and len(by_rule["evaluate"]) == 6 and len(by_rule["pretrain"]) == 2
    assert len(by_rule["aggregate"]) == 1 and not {"all", "dataset"} & set(by_rule)  # local rules ran here
    assert len(list((work / "resources" / "test" / "datasets").glob("*.jsonl"))) == 4
    for rule, rule_jobs in by_rule.items():
        res = local["set-resources"][rule]
        for job in rule_jobs:
            assert minutes(job["limit"]) == res["runtime"], (rule, job)
            assert int(job["cpus"]) == local["set-threads"][rule] * res.get("tasks", 1), (rule, job)
            assert job["mem"] == f"{res['mem_mb']}M", (rule, job)
    logs = work / ".snakemake" / "slurm_logs"
    assert {p.stem for p in logs.rglob("*.log")} >= set(submitted)  # the plugin's log of every job
    shutil.rmtree(work / "resources", ignore_errors=True)  # the rest stays in tmp_path for inspection
