"""Every script in scripts/ starts: its imports resolve and `--help` prints its usage. A module moved or
renamed without its scripts following (as the layout once did to the overhead benchmark) fails here,
not in the middle of a ten-minute benchmark.

    .venv/bin/pytest tests/test_scripts.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "scripts").glob("*.py") if not p.name.startswith("_"))  # _bench: harness


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 9


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_starts_and_prints_its_usage(script: Path) -> None:
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "usage:" in proc.stdout


def test_variance_study_runs_each_distinct_setting_once() -> None:
    """Settings the recipe has adopted since (lr 1e-3, tail averaging) would only rerun base: they are left out."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import variance_study
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    old = {"lr": 3.0e-3, "average": "none", "batch_size": 16}
    assert variance_study.distinct_settings(old)[:3] == ["base", "lr1e-3", "batch32"]
    now = {"lr": 1.0e-3, "average": "tail", "average_start": 0.5, "batch_size": 16}
    names = variance_study.distinct_settings(now)
    assert names == ["base", "lr3e-3", "no_average", "batch32", "ema99"]  # batch32_tail50 = batch32 now
