"""Publishing a run as the committed snapshot (`python -m mos snapshot`): refused for runs of a
modified checkout or an unfinished run, otherwise a whole-folder copy of summary/tables/figures.

    pytest tests/test_snapshot.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mos.pipeline import snapshot


def finished_run(root: Path, commit: str) -> Path:
    src = root / "results" / "exp"
    for part in snapshot.PARTS:
        (src / part).mkdir(parents=True)
    with open(src / "summary" / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["backbone", "mixture", "seed", "git_commit"])
        w.writeheader()
        w.writerow({"backbone": "b", "mixture": "m", "seed": 0, "git_commit": commit})
    (src / "tables" / "t.md").write_text("table")
    (src / "tables" / "reproduction.md").write_text("this run vs the old snapshot")
    (src / "figures" / "f.png").write_bytes(b"png")
    return src


def test_publishes_summary_tables_and_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a git checkout: nothing uncommitted to refuse
    src = finished_run(tmp_path, "abc123")
    dest = tmp_path / "snapshots" / "exp"
    (dest / "tables").mkdir(parents=True)
    (dest / "tables" / "stale.md").write_text("old")
    assert snapshot.main([str(src), str(dest)]) == 0
    assert (dest / "tables" / "t.md").read_text() == "table"
    assert (dest / "figures" / "f.png").read_bytes() == b"png"
    assert not (dest / "tables" / "stale.md").exists()  # replaced as a whole, not merged
    assert not (dest / "tables" / "reproduction.md").exists()  # the run against the snapshot it replaces
    assert sorted(p.name for p in dest.iterdir()) == sorted(snapshot.PARTS)


def test_refuses_runs_of_a_modified_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    src = finished_run(tmp_path, "abc123-dirty")
    assert snapshot.main([str(src), str(tmp_path / "snap")]) == 2
    assert "modified checkout" in capsys.readouterr().err and not (tmp_path / "snap").exists()
    assert snapshot.main([str(src), str(tmp_path / "snap"), "--allow-dirty"]) == 0


def test_refuses_an_unfinished_run(tmp_path):
    (tmp_path / "results" / "exp" / "summary").mkdir(parents=True)
    with pytest.raises(snapshot.SnapshotError, match="no tables, figures"):
        snapshot.publish(tmp_path / "results" / "exp", tmp_path / "snap")
