"""Every SLURM job of the paper's grid, as snakemake-executor-plugin-slurm would submit it, fits the
node shape the profile states (profiles/slurm/node.yaml), with the installed plugin and with the
task geometry plugin 2.0-2.7.0 added to GPU jobs; no cluster is needed.

    pytest tests/test_slurm_requests.py -q

`python -m mos slurm-requests` (mos/pipeline/slurm_requests.py) builds the DAG of
`snakemake --workflow-profile profiles/slurm --configfile config/paper.yaml` as a submission would
and passes each job that is not a local rule through the plugin's `get_submit_command` and
`set_gres_string`. The profile before issue 21 fails here: its `train` jobs asked for 8 GPUs and 64
CPUs per task, which plugin 2.0-2.7.0 turned into 8 tasks × 64 CPUs = 512 CPUs on one node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from mos.pipeline import slurm_requests as sr

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
NODE = sr.NodeShape(gpus=8, cpus=64, mem_mb=1_000_000)

pytest.importorskip("snakemake_executor_plugin_slurm")


def slurm_requests(*args: str, profile: Path = PROFILE) -> tuple[int, dict[str, Any]]:
    """`python -m mos slurm-requests --json` (exit status, report) in a fresh process."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mos", "slurm-requests", "--json", "--workflow-profile", str(profile),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def paper_jobs() -> tuple[int, dict[str, Any]]:
    return slurm_requests("--configfile", "config/paper.yaml")


def test_every_job_of_the_paper_grid_fits_the_stated_node(paper_jobs) -> None:
    code, report = paper_jobs
    assert report["node"] == {"gpus": 8, "cpus": 64, "mem_mb": 1_000_000}  # the shape README states
    bad = {j["rule"]: j["problems"] for j in report["jobs"] if j["problems"]}
    assert code == 0 and not bad, f"requests that do not fit one node: {bad}"
    submitted = [j for j in report["jobs"] if not j["local"]]
    counts = Counter(j["rule"] for j in submitted)
    assert counts["train"] == counts["evaluate"] == 62 and counts["base_ppl"] == counts["tokenize"] == 3
    # what needs the internet runs where snakemake runs (the login node), not on compute nodes:
    # the downloads, and the judge (and win rates) through OpenAI's API
    assert {j["rule"] for j in report["jobs"] if j["local"]} == {"dataset", "mt_bench_data", "hub_cache", "judge",
                                                                 "winrate", "all"}
    for job in submitted:  # the lines are the plugin's own, under both plugin behaviours
        for line in (job["sbatch"], job["legacy_sbatch"]):
            assert line.startswith("sbatch --parsable --job-name ") and f"--comment rule_{job['rule']}" in line


def test_each_rules_line_carries_the_profiles_resources(paper_jobs) -> None:
    _, report = paper_jobs
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))
    seen = set()
    for job in report["jobs"]:
        if job["local"]:
            continue
        rule, request, legacy = job["rule"], job["request"], job["legacy_request"]
        res = prof["set-resources"][rule]
        gpus = res.get("gpu", 0)
        assert request == legacy, f"{rule}: the request depends on the plugin version: {job['legacy_sbatch']}"
        assert request["gpus"] == gpus and request["nodes"] == 1 and request["tasks"] == 1, (rule, job["sbatch"])
        assert request["cpus"] == prof["set-threads"][rule], (rule, job["sbatch"])
        assert request["mem_mb"] == res["mem_mb"] and request["minutes"] == res["runtime"], (rule, job["sbatch"])
        assert (f"--gpus={gpus}" in job["sbatch"]) == bool(gpus), job["sbatch"]
        seen.add(rule)
    assert {"train", "base_ppl", "evaluate", "ppl_tuned", "tokenize", "aggregate"} <= seen
    train = next(j for j in report["jobs"] if j["rule"] == "train")
    assert "--gpus=8" in train["sbatch"] and "--nodes=1" in train["sbatch"] and "--ntasks" not in train["sbatch"]


def test_gpu_rules_state_their_task_geometry() -> None:
    """A GPU job is one task (accelerate starts a process per GPU inside it): said explicitly, so that
    no plugin version adds a task per GPU."""
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))
    gpu_rules = {rule: res for rule, res in prof["set-resources"].items() if res.get("gpu")}
    assert gpu_rules and all(res.get("tasks_per_gpu") == 0 for res in gpu_rules.values()), gpu_rules


# ---------------------------------------------------------------- the check itself (fast, can fail)


class Resources(dict):
    """Snakemake's job resources as the plugin reads them: `get` and attribute access."""

    __getattr__ = dict.__getitem__


class StandInJob:
    """The parts of a Snakemake job the plugin's command builder reads."""

    def __init__(self, name: str, threads: int, **resources: Any) -> None:
        self.name, self.threads, self.wildcards = name, threads, {}
        self.resources = Resources(resources)


class Settings:
    requeue = no_requeue = qos = reservation = None


def test_the_plugins_line_for_a_train_job_without_task_geometry_does_not_fit() -> None:
    """The profile's train job before issue 21 (8 GPUs, 64 threads, one node, no tasks_per_gpu):
    fine with the installed plugin, 512 CPUs with plugin 2.0-2.7.0; tasks_per_gpu: 0 fixes both."""
    before = StandInJob("train", 64, gpu=8, nodes=1, mem_mb=360000, runtime=2880)
    line = sr.sbatch_line(before, Settings(), "/work")
    legacy = sr.sbatch_line(before, Settings(), "/work", legacy=True)
    assert sr.parse_request(line).problems(NODE) == []
    assert "--ntasks-per-gpu=1" in legacy and "--cpus-per-task=64" in legacy
    assert sr.parse_request(legacy).problems(NODE) == ["8 task(s), 512 CPUs > 64 per node"]
    after = StandInJob("train", 64, gpu=8, nodes=1, tasks_per_gpu=0, mem_mb=360000, runtime=2880)
    for lines in (sr.sbatch_line(after, Settings(), "/work"), sr.sbatch_line(after, Settings(), "/work", legacy=True)):
        assert "--ntasks" not in lines and sr.parse_request(lines).problems(NODE) == []


@pytest.mark.parametrize(("line", "expected"), [
    ("sbatch --gpus=8 --nodes=1 --cpus-per-task=64 --mem 360000 -t 2880",
     sr.Request(nodes=1, tasks=1, gpus=8, cpus=64, mem_mb=360000, minutes=2880)),
    ("sbatch --gpus=h100:4 --ntasks-per-gpu=2 --cpus-per-task=3 --mem=2G",
     sr.Request(nodes=1, tasks=8, gpus=4, cpus=24, mem_mb=2048, minutes=None)),
    ("sbatch --gres=gpu:a100:2 --cpus-per-gpu=16 --mem-per-cpu 1000",
     sr.Request(nodes=1, tasks=1, gpus=2, cpus=32, mem_mb=32000, minutes=None)),
    ("sbatch --ntasks=3 --nodes=2 --cpus-per-task=2 --mem 1T -t 5",
     sr.Request(nodes=2, tasks=3, gpus=0, cpus=6, mem_mb=1048576, minutes=5)),
])
def test_sbatch_lines_are_read_as_slurm_counts_them(line: str, expected: sr.Request) -> None:
    assert sr.parse_request(line) == expected


def test_requests_that_do_not_fit_say_why() -> None:
    request = sr.Request(nodes=2, tasks=9, gpus=9, cpus=72, mem_mb=2_000_000, minutes=10)
    assert request.problems(NODE) == ["2 nodes (every job of the workflow runs on one node)", "9 GPUs > 8 per node",
                                      "9 task(s), 72 CPUs > 64 per node", "2,000,000 MB > 1,000,000 MB per node"]


def test_node_shape_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    assert sr.load_node_shape(PROFILE / "node.yaml") == NODE
    bad = tmp_path / "node.yaml"
    bad.write_text("gpus: 8\ncpus: many\nmem_mb: 10\n", encoding="utf-8")
    with pytest.raises(sr.RequestError, match=r"node.yaml: cpus must be a positive integer, got 'many'"):
        sr.load_node_shape(bad)
    bad.write_text("gpus: 8\nmem: 10\n", encoding="utf-8")
    with pytest.raises(sr.RequestError, match=r"missing cpus, mem_mb; unknown mem"):
        sr.load_node_shape(bad)


# ---------------------------------------------------------------- one number per fact


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def block_runs(cfg: dict[str, Any]) -> list[int]:
    """The runs each grid block adds to those of the blocks before it."""
    from mos.pipeline import grid as G

    seen: set = set()
    counts = []
    for block in cfg["grid"]:
        runs = {(b, m, s) for b in G.block_names(cfg, block, "backbones") for m in G.block_names(cfg, block, "mixtures")
                for s in block.get("seeds", cfg["seeds"])}
        counts.append(len(runs - seen))
        seen |= runs
    return counts


def test_readme_config_and_profile_state_the_same_numbers(paper_jobs) -> None:
    """Runs of the grid, jobs of the dry run, GPUs per training run, the node and every rule's
    resources: README's cluster section, config/paper.yaml's comments and the profile agree with
    the workflow itself."""
    import re

    from mos.pipeline import grid as G
    from mos.pipeline.config import load_config

    cfg = load_config(ROOT / "config" / "paper.yaml")
    section = readme_section("Running the paper on a cluster")
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))
    node = yaml.safe_load((PROFILE / "node.yaml").read_text(encoding="utf-8"))
    # runs: the comment over the grid, and README's first paragraph (the paper's blocks, the field's, all)
    per_block, total = block_runs(cfg), len(G.runs(cfg))
    assert sum(per_block) == total == 62
    comment = re.search(r"^# Which runs to make:.*?([\d +]+) = (\d+) runs", (ROOT / "config" / "paper.yaml").read_text(),
                        re.M)
    assert [int(n) for n in comment[1].split("+")] == per_block and int(comment[2]) == total
    intro = section[:section.index("```")]
    paper = 3  # the first three blocks are the paper's Tables 2, 3 and 5; the rest the field's methods
    assert [int(n) for n in re.findall(r"(\d+) runs", intro)] == [sum(per_block[:paper]), sum(per_block[paper:]),
                                                                   total]
    # jobs: the dry run's counts per rule, in all, through sbatch and local
    _, report = paper_jobs
    counts = Counter(j["rule"] for j in report["jobs"])
    listed = re.search(r"The dry run lists (.*?) jobs, then", section, re.S)[1]
    named = {rule: int(n) for n, rule in re.findall(r"(\d+) `(\w+)`", listed)}
    assert named == {rule: counts[rule] for rule in named} and len(named) >= 9, (named, counts)
    local = sum(j["local"] for j in report["jobs"])
    stated = re.search(r"(\d+) jobs, of which (\d+) go through `sbatch` and (\d+) are local rules", section)
    assert [int(n) for n in stated.groups()] == [len(report["jobs"]), len(report["jobs"]) - local, local]
    fetched = re.search(r"runs exactly these \((\d+) `dataset`, (\d+) `hub_cache`, (\d+) `mt_bench_data`", section)
    assert [int(n) for n in fetched.groups()] == [counts["dataset"], counts["hub_cache"], counts["mt_bench_data"]]
    # GPUs per training run and the node
    gpus = prof["set-resources"]["train"]["gpu"]
    assert int(re.search(r"every training run on (\d+) GPUs of one node", section)[1]) == gpus
    assert {j["request"]["gpus"] for j in report["jobs"] if j["rule"] == "train"} == {gpus}
    shape = re.search(r"nodes of\s+(\d+) GPUs, (\d+) CPUs and (\d+) TB of memory", section)
    assert [int(n) for n in shape.groups()] == [node["gpus"], node["cpus"], node["mem_mb"] // 1_000_000]
    # the per-rule table
    rows = re.findall(r"^\| `(\w+)` \| (–|\d+) \| (\d+) \| (\d+) GB \| (\d+) h \|", section, re.M)
    assert {r[0] for r in rows} >= {"train", "base_ppl", "evaluate", "tokenize"}
    for rule, g, cpus, gb, hours in rows:
        res = prof["set-resources"][rule]
        assert (0 if g == "–" else int(g)) == res.get("gpu", 0) and int(cpus) == prof["set-threads"][rule], rule
        assert int(gb) * 1000 == res["mem_mb"] and int(hours) * 60 == res["runtime"], rule
