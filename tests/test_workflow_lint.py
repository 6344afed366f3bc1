"""The workflow as the Snakemake catalog expects it: `snakemake --lint` finds nothing, every rule
has the conda environment of workflow/envs/, and that environment lists exactly the package's
dependencies from pyproject.toml.

    pytest tests/test_workflow_lint.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def test_lint_is_clean():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_every_rule_with_a_command_names_the_environment():
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        assert text.count("shell:") == len(re.findall(r"conda:\n\s+ENV\n\s+shell:", text)), path.name


def test_conda_environment_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "workflow" / "envs" / "mos.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip == deps, "workflow/envs/mos.yaml's pip list must be pyproject.toml's [project] dependencies"
