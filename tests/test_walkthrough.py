"""The README's "Add a mixing strategy" and "Add a table or figure" walkthroughs, followed literally in a
copy of the repository.

    .venv/bin/pytest tests/test_walkthrough.py -m slow      # the strategy: about 1.5 minutes on 2 cores
    .venv/bin/pytest tests/test_walkthrough.py -k table     # the table: about 20 s

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

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Add a mixing strategy"
TABLE_SECTION = "## Add a table or figure"
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
