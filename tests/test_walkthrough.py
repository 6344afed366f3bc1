"""The README's walkthroughs: "Add a mixing strategy" and "Add a table or figure" followed literally
in a copy of the repository, and "Add a benchmark" on the tiny test model.

    .venv/bin/pytest tests/test_walkthrough.py -m slow      # the strategy: about 1.5 minutes on 2 cores
    .venv/bin/pytest tests/test_walkthrough.py -k table     # the table: about 20 s
    .venv/bin/pytest tests/test_walkthrough.py -k benchmark # the benchmark: ~15 s

The test reads the section from README.md, writes its Python block to the file its first line names
(baselines/<file>.py), inserts its YAML line under `mixtures:` of the copy's config/test.yaml, runs
its `snakemake` command (a one-job grid: one backbone x the new mixture x one seed) in the copy, and
checks that the run trained with the new strategy's weights (run.json `final_weights` equal the
strategy's `initial_weights` of the run's dataset sizes) and was evaluated and aggregated. If the
README changes, the test follows the new text; if the text stops working, the test fails.

The table walkthrough writes the README's analysis script, adds its name to analysis/__init__.py
SCRIPTS, and runs the section's commands: `python -m analysis --list` names it, `python -m analysis
snapshots/default --only <name>` writes its table, and `snakemake -n` plans one job of a rule of that
name, which `rule all` asks for.

The benchmark walkthrough writes the section's Python block as a module of the benchmarks folder
(a folder added to the package's path: what the registry scans), applies its YAML line to
config/test.yaml's `eval.benchmarks`, checks that the config, the eval job's spec and `mos
benchmarks` know the new name, and evaluates the tiny test model on it and, separately, on
`testbed_mc` over the same items: its metrics.csv rows must be testbed_mc's under the new name. A registry that ignored
the file fails at the config. A second test registers a benchmark through the `mos.benchmarks`
entry-point group of an installed distribution.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Add a mixing strategy"
TABLE_SECTION = "## Add a table or figure"
BENCHMARK_SECTION = "## Add a benchmark"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def readme_section(text: str, title: str = SECTION) -> str:
    """The text of one `## ` section of the README, without its title."""
    start = text.index(title + "\n") + len(title) + 1
    end = text.find("\n## ", start)
    return text[start:] if end < 0 else text[start:end]


def code_blocks(section: str) -> dict[str, list[str]]:
    """Fenced code blocks by language: {'python': [...], 'yaml': [...], 'bash': [...]}."""
    blocks: dict[str, list[str]] = {}
    for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", section, re.S | re.M):
        blocks.setdefault(lang, []).append(body)
    return blocks


def copy_repository(dest: Path) -> Path:
    """The repository's tracked and untracked-but-not-ignored files (no .venv, resources/, runs)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def add_under_mixtures(config: str, lines: str) -> str:
    """Insert `lines` right after the top-level `mixtures:` line, as the README says."""
    head, sep, tail = config.partition("\nmixtures:\n")
    assert sep, "config/test.yaml has no top-level 'mixtures:' line"
    return head + sep + lines.rstrip("\n") + "\n" + tail


def load_strategy(path: Path):
    """The strategy class defined in the README's file (the MixingStrategy subclass with a name)."""
    from mos.mixing.strategy import MixingStrategy

    spec = importlib.util.spec_from_file_location(f"walkthrough_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, MixingStrategy) and c is not MixingStrategy and c.name]
    assert len(found) == 1, f"{path}: expected one strategy class, found {found}"
    return found[0]


@pytest.mark.slow
def test_add_a_mixing_strategy_walkthrough(tmp_path: Path) -> None:
    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8"))
    blocks = code_blocks(section)
    assert set(blocks) >= {"python", "yaml", "bash"}, f"README section lacks a code block: {list(blocks)}"
    repo = copy_repository(tmp_path / "repo")

    # 1. the strategy file, at the path its first line names
    code = blocks["python"][0]
    first = code.splitlines()[0]
    assert first.startswith("# baselines/") and first.endswith(".py"), first
    strategy_file = repo / first[2:].strip()
    assert not strategy_file.exists(), f"{strategy_file.name} already exists in the repository"
    strategy_file.write_text(code, encoding="utf-8")
    cls = load_strategy(strategy_file)

    # 2. the mixture, under `mixtures:` of the test experiment's config
    yaml_line = blocks["yaml"][0]
    mixture, _, rest = yaml_line.strip().partition(":")
    assert f"strategy: {cls.name}" in rest, yaml_line
    config = repo / "config" / "test.yaml"
    config.write_text(add_under_mixtures(config.read_text(encoding="utf-8"), yaml_line), encoding="utf-8")

    # 3. the README's command, as written (snakemake of this environment)
    commands = [line for line in blocks["bash"][0].splitlines() if line.startswith("snakemake ")]
    assert len(commands) == 1, blocks["bash"][0]
    argv = [sys.executable, "-m", *shlex.split(commands[0])]
    env = {**os.environ, **OFFLINE}
    listed = subprocess.run([sys.executable, "-m", "mos", "strategies"], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0 and cls.name in listed.stdout, listed.stdout + listed.stderr
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    logs = "\n".join(f"== {p}\n{p.read_text(errors='replace')[-1500:]}" for p in (repo / "logs").rglob("*.log"))
    assert proc.returncode == 0, proc.stderr[-4000:] + logs

    # 4. the run the README points to: trained with the new strategy's weights, and evaluated
    run_json = re.search(r"`(results/\S+/run\.json)`", section)
    assert run_json, "the README section names no run.json"
    run_dir = repo / Path(run_json[1]).parent
    runs = sorted((repo / "results" / "test" / "runs").glob("*/*/seed*/run.json"))
    assert runs == [run_dir / "run.json"], f"expected one run, the README's; got {runs}"
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["spec"]["mixture"]["name"] == mixture
    assert info["spec"]["mixture"]["strategy"] == cls.name
    expected = cls(**info["spec"]["mixture"]["params"]).initial_weights(info["dataset_sizes"], seed=0)
    assert set(info["final_weights"]) == set(expected)
    for name, weight in expected.items():
        assert math.isclose(info["final_weights"][name], weight, rel_tol=1e-9), (name, info["final_weights"])
    assert (run_dir / "model").is_dir() and (run_dir / "eval" / "metrics.csv").is_file()
    metrics = pd.read_csv(repo / "results" / "test" / "summary" / "metrics.csv")
    mine = metrics[(metrics["mixture"] == mixture) & (metrics["scope"] == "overall")]
    assert set(mine["benchmark"]) >= {"testbed_mc"} and mine["value"].between(0, 1).all()
    assert mixture in (repo / "results" / "test" / "tables" / "table2_main_testbed_mc.md").read_text(encoding="utf-8")


def test_add_a_table_walkthrough(tmp_path: Path) -> None:
    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8"), TABLE_SECTION)
    blocks = code_blocks(section)
    assert set(blocks) >= {"python", "bash"}, f"README section lacks a code block: {list(blocks)}"
    repo = copy_repository(tmp_path / "repo")

    # 1. the script, at the path its first line names
    code = blocks["python"][0]
    first = code.splitlines()[0]
    assert first.startswith("# analysis/") and first.endswith(".py"), first
    script = repo / first[2:].strip()
    assert not script.exists(), f"{script.name} already exists in the repository"
    script.write_text(code, encoding="utf-8")
    name = script.stem

    # 2. its name in SCRIPTS, before "headline"
    assert 'before `"headline"`' in section and "`SCRIPTS`" in section, section
    init = repo / "analysis" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    assert text.count('"headline")') == 1, "analysis/__init__.py SCRIPTS no longer ends with \"headline\")"
    init.write_text(text.replace('"headline")', f'"{name}", "headline")'), encoding="utf-8")

    # 3. the README's commands, as written (python and snakemake of this environment)
    env = {**os.environ, **OFFLINE}
    outputs = []
    for line in blocks["bash"][0].splitlines():
        argv = shlex.split(line, comments=True)
        argv = [sys.executable, *argv[1:]] if argv[0] == "python" else [sys.executable, "-m", *argv]
        proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        outputs.append(proc.stdout)
    listing, regenerated, dry_run = outputs
    assert re.search(rf"^{name}\s+Seeds per backbone", listing, re.M), listing
    assert re.search(rf"^{name}\s+3 files$", regenerated, re.M), regenerated
    table = pd.read_csv(repo / "snapshots" / "default" / "tables" / f"{name}.csv")
    runs = pd.read_csv(repo / "snapshots" / "default" / "summary" / "runs.csv")
    assert len(table) == len(runs.drop_duplicates(["backbone", "mixture"]))
    assert table["seeds"].sum() == len(runs)
    jobs = dry_run.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    assert re.search(rf"^{name}\s+1$", jobs, re.M), jobs
    assert re.search(rf"rule all:\n\s+input: .*results/test/tables/{name}\.md", dry_run), "rule all does not ask for it"


@pytest.fixture
def benchmarks_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An extra folder of the `mos.evaluation.benchmarks` package, as if its files were in the package's own
    folder; the registry is rescanned with it and again after the test."""
    import mos.evaluation.benchmarks as registry

    folder = tmp_path / "benchmarks_folder"
    folder.mkdir()
    before = set(sys.modules)
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(folder)])
    registry.available.cache_clear()
    yield folder
    monkeypatch.undo()
    for name in set(sys.modules) - before:
        if name.startswith("mos.evaluation.benchmarks."):
            del sys.modules[name]
    registry.available.cache_clear()


def test_add_a_benchmark_walkthrough(benchmarks_folder: Path, testbed_dir: Path, tiny_model_dir: Path,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mos.evaluation import benchmarks as registry
    from mos.evaluation.evaluate import main as evaluate
    from mos.pipeline import grid, specs
    from mos.pipeline.config import load_config

    section = readme_section((ROOT / "README.md").read_text(encoding="utf-8"), BENCHMARK_SECTION)
    blocks = code_blocks(section)
    assert set(blocks) >= {"python", "yaml"}, f"README section lacks a code block: {list(blocks)}"
    builtin = set(registry.available())

    # 1. the benchmark file, in the benchmarks folder
    code = blocks["python"][0]
    first = code.splitlines()[0]
    assert first.startswith("# mos/evaluation/benchmarks/") and first.endswith(".py"), first
    file = Path(first[2:].strip())
    assert not (ROOT / file).exists(), f"{file} already exists in the repository"
    (benchmarks_folder / file.name).write_text(code, encoding="utf-8")
    registry.available.cache_clear()
    new = sorted(set(registry.available()) - builtin)
    assert len(new) == 1, f"expected one new benchmark, found {new}"
    name, cls = new[0], registry.get(new[0])
    assert name in registry.describe()  # `python -m mos benchmarks`

    # its data, where `path` says (relative to the repository root, here the working folder):
    # the testbed's MC items
    monkeypatch.chdir(tmp_path)
    data = Path(cls.path)
    data.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(testbed_dir / "eval" / "mc.jsonl", data)

    # 2. one config line: the test experiment's eval.benchmarks with the new name
    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text(encoding="utf-8"))
    line = yaml.safe_load(blocks["yaml"][0])
    assert line == {"benchmarks": [*raw["eval"]["benchmarks"], name]}, blocks["yaml"][0]
    raw["eval"].update(line)
    cfg = load_config(raw, "config/test.yaml")
    run = grid.runs(cfg)[0]
    spec = specs.eval_spec(cfg, *run)
    assert spec["benchmarks"][name] == cls.path
    assert specs.benchmark_inputs(cfg, [name]) == {name: cls.path}  # the evaluate job waits for the file
    assert name in grid.group_benchmarks(cfg["eval"]["benchmarks"])  # Table 2 gets a table of it

    # 3. the tiny model evaluated on it, and (a second evaluation) on testbed_mc over the same items
    spec = {"model": str(tiny_model_dir), "benchmarks": {name: spec["benchmarks"][name]}, "batch_size": 16}
    reference = {**spec, "benchmarks": {"testbed_mc": str(data)}}
    assert evaluate(["--spec", json.dumps(spec), "--out", "eval", "--spec", json.dumps(reference),
                     "--out", "reference", "--threads", "1"]) == 0
    metrics = pd.read_csv("eval/metrics.csv")
    assert set(metrics["benchmark"]) == {name}
    mine = metrics.drop(columns="benchmark")
    assert len(mine) and mine.equals(pd.read_csv("reference/metrics.csv").drop(columns="benchmark"))
    assert set(mine["scope"]) == {"overall", "group", "skill", "subject"}
    n_items = sum(1 for line in data.read_text(encoding="utf-8").splitlines() if line.strip())
    assert (mine.loc[mine["scope"] == "overall", "n_items"] == n_items).all()
    assert (Path("eval/lm_eval") / f"samples_{name}.jsonl").is_file()


def test_a_benchmark_from_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package of one's own registers benchmarks in the `mos.benchmarks` entry-point group."""
    from mos.evaluation import benchmarks as registry

    site = tmp_path / "site"
    site.mkdir()
    (site / "my_benchmarks.py").write_text(
        '"""My benchmarks."""\nfrom dataclasses import dataclass\n\n'
        "from mos.evaluation.benchmarks.testbed_mc import TestbedMC\n\n\n"
        "@dataclass\nclass MyMC(TestbedMC):\n    name = 'my_mc'\n    path = 'data/my_mc.jsonl'\n", encoding="utf-8")
    dist = site / "my_benchmarks-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-benchmarks\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[mos.benchmarks]\nmy_mc = my_benchmarks:MyMC\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    registry.available.cache_clear()
    try:
        assert registry.get("my_mc").__module__ == "my_benchmarks"
        with pytest.raises(registry.BenchmarkError, match="unknown benchmark 'my_mcq'. Did you mean 'my_mc'"):
            registry.get("my_mcq")
    finally:
        monkeypatch.undo()
        sys.modules.pop("my_benchmarks", None)
        registry.available.cache_clear()
