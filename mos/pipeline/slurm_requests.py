"""Every SLURM job of a workflow run as `sbatch` would receive it, and whether each fits one node.

    python -m mos slurm-requests --configfile config/paper.yaml          # profiles/slurm + its node.yaml
    python -m mos slurm-requests --configfile config/paper.yaml --json   # every job, machine-readable
    python -m mos slurm-requests --configfile config/paper.yaml -- --set-resources train:gpu=4

No cluster is needed. Snakemake builds the run's DAG exactly as a submission would (`--executor
slurm` with the workflow profile, every job forced, as a dry run), and each job that is not a local
rule goes through snakemake-executor-plugin-slurm's own command builder, `get_submit_command` and
`set_gres_string`: the line its executor hands to `sbatch`, but for the account and partition
(taken as the job's resources name them; the executor validates or guesses them against the
cluster) and the job script (`--wrap`), which are left out.

Each line is then read the way SLURM reads it (tasks × CPUs per task or CPUs per GPU, GPUs, nodes,
memory per node) and checked against the node shape the profile is sized for, `node.yaml` beside
the profile's `config.yaml`: every job must fit one such node. Every job is rendered twice: by the
installed plugin, and as plugin versions 2.0-2.7.0 rendered it, which add `--ntasks-per-gpu=1` to
a GPU job unless its `tasks_per_gpu` (or `tasks`) resource says otherwise (2.7.1 stopped adding
it): a request must fit under both, so that it does not depend on which plugin is installed.
Exit status: 0 every request fits, 1 some do not, 2 the workflow or the node shape could not be read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PROFILE = "profiles/slurm"
NODE_FILE = "node.yaml"
NODE_KEYS = ("gpus", "cpus", "mem_mb")
UNLIMITED_CORES = 1_000_000  # a dry run caps threads at --cores; a real submission does not
# sbatch options that take a value (the rest are flags); both `--opt value` and `--opt=value` occur
VALUE_OPTIONS = {"--job-name", "--output", "--comment", "-A", "-p", "--clusters", "-t", "-C", "--qos", "--mem",
                 "--mem-per-cpu", "--mem-per-gpu", "--nodes", "-N", "--ntasks", "-n", "--ntasks-per-gpu",
                 "--ntasks-per-node", "--cpus-per-task", "-c", "--cpus-per-gpu", "--gpus", "-G", "--gres",
                 "--reservation", "--exclude", "-D", "--time"}
MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


class RequestError(ValueError):
    """An sbatch line or node shape that cannot be read; the message names the option or key."""


# ---------------------------------------------------------------- the node shape


@dataclass(frozen=True)
class NodeShape:
    """The smallest node every request must fit: GPUs, CPUs and memory (MB, as SLURM's --mem)."""

    gpus: int
    cpus: int
    mem_mb: int

    def describe(self) -> str:
        return f"{self.gpus} GPUs, {self.cpus} CPUs, {self.mem_mb:,} MB"


def load_node_shape(path: str | Path) -> NodeShape:
    """The node shape of a YAML file with the keys gpus, cpus and mem_mb (positive integers)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RequestError(f"{path}: cannot read the node shape ({e.strerror})") from None
    if not isinstance(data, dict):
        raise RequestError(f"{path}: expected a mapping with the keys {', '.join(NODE_KEYS)}")
    unknown = sorted(set(data) - set(NODE_KEYS))
    missing = [k for k in NODE_KEYS if k not in data]
    if unknown or missing:
        raise RequestError(f"{path}: expected exactly the keys {', '.join(NODE_KEYS)}"
                           + (f"; missing {', '.join(missing)}" if missing else "")
                           + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    for key in NODE_KEYS:
        if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < (0 if key == "gpus" else 1):
            raise RequestError(f"{path}: {key} must be a positive integer, got {data[key]!r}")
    return NodeShape(**{k: data[k] for k in NODE_KEYS})


# ---------------------------------------------------------------- one sbatch line, as SLURM reads it


@dataclass(frozen=True)
class Request:
    """What an sbatch line asks for: nodes, tasks, GPUs, CPUs and memory over the whole job."""

    nodes: int
    tasks: int
    gpus: int
    cpus: int
    mem_mb: int
    minutes: int | None

    def problems(self, node: NodeShape) -> list[str]:
        """Why the request does not fit one node of the shape (empty when it fits)."""
        out = []
        if self.nodes != 1:
            out.append(f"{self.nodes} nodes (every job of the workflow runs on one node)")
        if self.gpus > node.gpus:
            out.append(f"{self.gpus} GPUs > {node.gpus} per node")
        if self.cpus > node.cpus:
            out.append(f"{self.tasks} task(s), {self.cpus} CPUs > {node.cpus} per node")
        if self.mem_mb > node.mem_mb:
            out.append(f"{self.mem_mb:,} MB > {node.mem_mb:,} MB per node")
        return out


def options(line: str) -> dict[str, str | None]:
    """The options of an sbatch command line: {option: value, or None for a flag}."""
    words = shlex.split(line)
    if not words or words[0] != "sbatch":
        raise RequestError(f"not an sbatch command line: {line!r}")
    out: dict[str, str | None] = {}
    i = 1
    while i < len(words):
        word = words[i]
        if word.startswith("-") and "=" in word:
            key, value = word.split("=", 1)
            out[key] = value
        elif word in VALUE_OPTIONS:
            if i + 1 >= len(words):
                raise RequestError(f"sbatch option {word} has no value: {line!r}")
            out[word] = words[i + 1]
            i += 1
        else:
            out[word] = None
        i += 1
    return out


def _int(opts: Mapping[str, str | None], *names: str) -> int | None:
    for name in names:
        if opts.get(name) is not None:
            text = str(opts[name])
            try:
                return int(text.split("-")[-1])  # a range "1-2" asks for at most its upper end
            except ValueError:
                raise RequestError(f"sbatch option {name}={text!r} is not an integer") from None
    return None


def _megabytes(text: str, name: str) -> int:
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text.strip().upper())
    if not match:
        raise RequestError(f"sbatch option {name}={text!r} is not a memory size")
    return int(int(match[1]) * MEM_UNITS[match[2] or "M"])


def _gpus(opts: Mapping[str, str | None]) -> int:
    """GPUs of --gpus / -G ([type:]n) or of a gpu entry of --gres (gpu[:type]:n)."""
    value = opts.get("--gpus") or opts.get("-G")
    if value:
        return int(value.rsplit(":", 1)[-1])
    for entry in (opts.get("--gres") or "").split(","):
        parts = entry.strip().split(":")
        if parts[0] == "gpu":
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return 0


def parse_request(line: str) -> Request:
    """The resources an sbatch line asks for, as SLURM computes them (memory per node: --mem)."""
    opts = options(line)
    gpus = _gpus(opts)
    nodes = _int(opts, "--nodes", "-N") or 1
    tasks = _int(opts, "--ntasks", "-n")
    if tasks is None and gpus and (per_gpu := _int(opts, "--ntasks-per-gpu")):
        tasks = per_gpu * gpus
    if tasks is None and (per_node := _int(opts, "--ntasks-per-node")):
        tasks = per_node * nodes
    tasks = tasks or 1
    if (per_gpu_cpus := _int(opts, "--cpus-per-gpu")) is not None:
        cpus = per_gpu_cpus * max(gpus, 1)
    else:
        cpus = (_int(opts, "--cpus-per-task", "-c") or 1) * tasks
    if opts.get("--mem") is not None:
        mem = _megabytes(str(opts["--mem"]), "--mem")
    elif opts.get("--mem-per-cpu") is not None:
        mem = _megabytes(str(opts["--mem-per-cpu"]), "--mem-per-cpu") * cpus
    elif opts.get("--mem-per-gpu") is not None:
        mem = _megabytes(str(opts["--mem-per-gpu"]), "--mem-per-gpu") * max(gpus, 1)
    else:
        mem = 0
    limit = opts.get("-t") or opts.get("--time")
    minutes = int(limit) if limit and limit.isdigit() else None
    return Request(nodes=nodes, tasks=tasks, gpus=gpus, cpus=cpus, mem_mb=mem, minutes=minutes)


# ---------------------------------------------------------------- every job of a run, through the plugin


@dataclass
class Job:
    """One job of the run: submitted with `sbatch` (its line and request, by the installed plugin and
    as plugin 2.0-2.7.0 rendered it), or run locally."""

    rule: str
    wildcards: dict[str, str]
    local: bool
    sbatch: str | None = None
    request: Request | None = None
    legacy_sbatch: str | None = None
    legacy_request: Request | None = None
    problems: list[str] = field(default_factory=list)


class _Resources:
    """A job's resources with some values put in (attribute and `get` access, as the plugin reads them)."""

    def __init__(self, resources: Any, extra: Mapping[str, Any]) -> None:
        self._resources, self._extra = resources, dict(extra)

    def get(self, key: str, default: Any = None) -> Any:
        return self._extra[key] if key in self._extra else self._resources.get(key, default)

    def __getattr__(self, key: str) -> Any:
        return self._extra[key] if key in self._extra else getattr(self._resources, key)


class _JobView:
    """A job as the plugin sees it, with resources put in (everything else is the job's own)."""

    def __init__(self, job: Any, extra: Mapping[str, Any]) -> None:
        self._job = job
        self.resources = _Resources(job.resources, extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)


def legacy_gpu_tasks(resources: Any) -> dict[str, Any]:
    """What plugin versions 2.0-2.7.0 added to a GPU job: one task per GPU unless tasks_per_gpu or
    tasks is set (they rendered a missing value as 1; 2.7.1 stopped adding it)."""
    gpu_job = resources.get("gpu") or "gpu" in str(resources.get("gres", "") or "")
    if gpu_job and resources.get("tasks_per_gpu") is None and resources.get("tasks") is None:
        return {"tasks_per_gpu": 1}
    return {}


def sbatch_line(job: Any, settings: Any, workdir: str, legacy: bool = False) -> str:
    """The plugin's sbatch line for one job (no account/partition lookup, no job script)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import get_job_wildcards, set_gres_string

    view = _JobView(job, legacy_gpu_tasks(job.resources) if legacy else {})
    wildcards = get_job_wildcards(job)
    name = f"rule_{job.name}"
    account, partition = view.resources.get("slurm_account"), view.resources.get("slurm_partition")
    params = {
        "run_uuid": "<run-uuid>",
        "slurm_logfile": Path(".snakemake/slurm_logs") / name / wildcards / "%j.log",
        "comment_str": f"{name}_wildcards_{wildcards}" if wildcards else name,
        "account": f" -A {shlex.quote(str(account))}" if account else "",
        "partition": f" -p {shlex.quote(str(partition))}" if partition else "",
        "workdir": workdir,
    }
    return get_submit_command(view, params, settings=settings) + set_gres_string(view)


@contextlib.contextmanager
def _dry_run_jobs(collect) -> Iterator[None]:
    """While inside, every job Snakemake's dry run 'executes' is also passed to `collect`."""
    from snakemake.executors import dryrun

    original = dryrun.Executor.run_job

    def run_job(self, job):
        collect(self.workflow, job)
        return original(self, job)

    dryrun.Executor.run_job = run_job
    try:
        yield
    finally:
        dryrun.Executor.run_job = original


def render(snakemake_args: Sequence[str]) -> list[Job]:
    """Every job of `snakemake --executor slurm <snakemake_args>` (all forced), with the sbatch lines of
    each job that is submitted (installed plugin, plugin 2.0-2.7.0). Runs Snakemake in this process (it changes global state: use it
    from a command, not a long-lived process)."""
    try:
        from snakemake.cli import args_to_api, parse_args
        from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RequestError(f"{e.name} is missing: pip install -e '.[slurm]'") from None
    argv = ["--quiet", "all", "--executor", "slurm", "--dry-run", "--forceall", "--cores", str(UNLIMITED_CORES),
            *snakemake_args]
    parser, args = parse_args(argv)
    try:
        settings = ExecutorPluginRegistry().get_plugin("slurm").get_settings(args)
    except Exception as e:  # noqa: BLE001 - the registry raises its own error types
        raise RequestError(f"snakemake-executor-plugin-slurm is not usable: {e}") from None
    jobs: list[Job] = []

    def collect(workflow: Any, job: Any) -> None:
        # workflow.is_local() answers True for every job of a dry run; a submission asks the rule
        local = job.rule.name in workflow._localrules or job.rule.norun
        item = Job(job.name, dict(job.wildcards.items()), local)
        if not local:
            item.sbatch = sbatch_line(job, settings, str(workflow.workdir_init))
            item.request = parse_request(item.sbatch)
            item.legacy_sbatch = sbatch_line(job, settings, str(workflow.workdir_init), legacy=True)
            item.legacy_request = parse_request(item.legacy_sbatch)
        jobs.append(item)

    with _dry_run_jobs(collect), contextlib.redirect_stdout(sys.stderr):  # stdout: only our report
        ok = args_to_api(args, parser)
    if not ok:
        raise RequestError(f"snakemake {shlex.join(snakemake_args)} failed (see above)")
    return jobs


def check(jobs: Sequence[Job], node: NodeShape) -> int:
    """Fill in each submitted job's problems with the node; the number of jobs that do not fit."""
    for job in jobs:
        job.problems = job.request.problems(node) if job.request else []
        if job.legacy_request and job.legacy_request != job.request:
            job.problems += [f"plugin 2.0-2.7.0: {p}" for p in job.legacy_request.problems(node)]
    return sum(bool(j.problems) for j in jobs)


def summary(jobs: Sequence[Job], node: NodeShape) -> str:
    """Per rule: how many jobs, where they run, each distinct request, and what does not fit."""
    by_rule: dict[str, list[Job]] = {}
    for job in jobs:
        by_rule.setdefault(job.rule, []).append(job)
    lines = [f"node shape: {node.describe()}"]
    for rule, rule_jobs in by_rule.items():
        if rule_jobs[0].local:
            lines.append(f"{rule:20s} {len(rule_jobs):4d} local (runs where snakemake runs)")
            continue
        for request, legacy in dict.fromkeys((j.request, j.legacy_request) for j in rule_jobs):
            same = [j for j in rule_jobs if (j.request, j.legacy_request) == (request, legacy)]
            fit = "; ".join(same[0].problems) or "fits"
            lines.append(f"{rule:20s} {len(same):4d} {request.gpus} GPU {request.nodes} node {request.tasks} task "
                         f"{request.cpus} CPU {request.mem_mb:,} MB {request.minutes} min: {fit}")
            lines.append(f"{'':25s} {same[0].sbatch}")
            if legacy != request:
                lines.append(f"{'':25s} plugin 2.0-2.7.0: {same[0].legacy_sbatch}")
    bad = sum(bool(j.problems) for j in jobs)
    lines.append(f"{len(jobs)} jobs, {sum(not j.local for j in jobs)} submitted, {bad} do not fit")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workflow-profile", default=DEFAULT_PROFILE, help=f"profile folder (default {DEFAULT_PROFILE})")
    ap.add_argument("--configfile", default=None, help="the experiment (default: the workflow's config/config.yaml)")
    ap.add_argument("--node", default=None, help=f"node shape YAML (default: {NODE_FILE} in the profile folder)")
    ap.add_argument("--json", action="store_true", help="print every job as JSON")
    ap.add_argument("snakemake_args", nargs="*", help="more snakemake arguments, after `--`")
    args = ap.parse_args(argv)
    smk = ["--workflow-profile", args.workflow_profile, *(["--configfile", args.configfile] if args.configfile else []),
           *args.snakemake_args]
    try:
        node = load_node_shape(args.node or Path(args.workflow_profile) / NODE_FILE)
        jobs = render(smk)
    except RequestError as e:
        print(f"mos slurm-requests: {e}", file=sys.stderr)
        return 2
    bad = check(jobs, node)
    if args.json:
        print(json.dumps({"node": asdict(node), "jobs": [asdict(j) for j in jobs]}, indent=1))
    else:
        print(summary(jobs, node))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
