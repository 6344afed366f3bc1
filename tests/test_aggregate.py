"""Tests of `python -m mos aggregate`: summary columns, row order, verbatim cells, clear errors.

    .venv/bin/pytest tests/test_aggregate.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mos.pipeline.aggregate import AggregateError, aggregate, main

PAPER = {"proportional": "PROP. (τ=1)", "uniform": "UNI. (τ=∞)"}


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def make_run(root: Path, backbone: str, mixture: str, seed: int, acc: float = 0.5) -> Path:
    """A complete run folder as mos.training.loop + mos.evaluation.evaluate write it (tiny, fixed numbers)."""
    run = root / "runs" / backbone / mixture / f"seed{seed}"
    spec = {"backbone": backbone, "model": f"resources/x/backbones/{backbone}",
            "datasets": {"A": "a.jsonl", "B": "b.jsonl"},
            "mixture": {"name": mixture, "strategy": "temperature",
                        "params": {"tau": 1 if mixture == "proportional" else float("inf")}},
            "train": {"steps": 20, "batch_size": 4, "lr": 0.002}, "seed": seed,
            "paper": {"backbone": "LLaMA-3-8B", "method": PAPER.get(mixture)}}
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"spec": spec, "provenance": {"git_commit": "abc123"},
                                              "timing": {"train_seconds": 1.5, "tokens_per_second": 800.0}}))
    # logged out of order on purpose: the summary must be sorted by step
    _write_csv(run / "train_log.csv", ["step", "loss", "lr", "tokens", "seconds"],
               [[20, "0.123456789012", 0.001, 640, 2.0], [10, 1.5, 0.002, 320, 1.0]])
    _write_csv(run / "trajectory.csv", ["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"],
               [[0, "A", 0.5, "", "", 0], [0, "B", 0.5, "", "", 0], [20, "A", 0.5, "", "", 41], [20, "B", 0.5, "", "", 39]])
    _write_csv(run / "eval" / "metrics.csv", ["benchmark", "scope", "name", "metric", "value", "n_items"],
               [["testbed_mc", "overall", "all", "acc", acc, 30], ["testbed_mc", "group", "Mathematics", "acc", acc, 10],
                ["testbed_mc", "subject", "math/addition", "acc", acc, 10]])
    _write_csv(run / "eval" / "items.csv", ["benchmark", "item", "subject", "turn", "metric", "value"],
               [["testbed_mc", "0", "math/addition", "", "acc", 1.0], ["testbed_mc", "1", "math/addition", "", "acc", 0.0]])
    if seed == 0:  # only some runs were judged: the judge's per-turn scores are optional
        _write_csv(run / "eval" / "judge_items.csv", ["benchmark", "item", "subject", "turn", "metric", "value"],
                   [["testbed_chat", "chat-000", "arithmetic", 1, "score", 7.5],
                    ["testbed_chat", "chat-000", "arithmetic", 2, "score", ""]])
    return run


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


@pytest.fixture
def grid(tmp_path: Path) -> list[Path]:
    """2 backbones x 2 mixtures x 2 seeds, given in a scrambled order."""
    cells = [("tiny-qwen", "uniform", 1), ("tiny-qwen", "proportional", 0), ("tiny-llama", "uniform", 0),
             ("tiny-qwen", "uniform", 0), ("tiny-llama", "proportional", 1), ("tiny-qwen", "proportional", 1),
             ("tiny-llama", "proportional", 0), ("tiny-llama", "uniform", 1)]
    return [make_run(tmp_path, b, m, s, acc=0.25 + 0.1 * s) for b, m, s in cells]


def test_summary_columns_rows_and_order(grid: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "summary"
    counts = aggregate(grid, out)
    assert counts == {"runs.csv": 8, "metrics.csv": 24, "train_log.csv": 16, "trajectory.csv": 32,
                      "items.csv.gz": 8 * 2 + 4 * 2}
    import gzip

    with gzip.open(out / "items.csv.gz", "rt", encoding="utf-8") as f:
        items = list(csv.DictReader(f))
    assert items[0] == {"backbone": "tiny-qwen", "mixture": "uniform", "seed": "0", "benchmark": "testbed_mc",
                        "item": "0", "subject": "math/addition", "turn": "", "metric": "acc", "value": "1.0"}
    judged = [r for r in items if r["benchmark"] == "testbed_chat"]
    assert len(judged) == 8 and {r["seed"] for r in judged} == {"0"} and judged[1]["value"] == ""
    assert header(out / "runs.csv") == ["backbone", "mixture", "seed", "theta0", "strategy", "params",
                                        "paper_backbone", "paper_method", "steps", "examples", "extra_examples",
                                        "train_seconds",
                                        "tokens_per_second", "git_commit", "machine", "weights"]
    assert header(out / "metrics.csv") == ["backbone", "mixture", "seed", "benchmark", "scope", "name", "metric",
                                           "value", "n_items"]
    assert header(out / "train_log.csv") == ["backbone", "mixture", "seed", "step", "loss", "lr", "tokens"]
    assert header(out / "trajectory.csv") == ["backbone", "mixture", "seed", "step", "dataset", "weight", "reward",
                                              "smoothed_reward", "drawn"]
    runs = read(out / "runs.csv")
    # first appearance among the arguments: tiny-qwen before tiny-llama, uniform before proportional
    assert [(r["backbone"], r["mixture"], r["seed"]) for r in runs][:4] == [
        ("tiny-qwen", "uniform", "0"), ("tiny-qwen", "uniform", "1"),
        ("tiny-qwen", "proportional", "0"), ("tiny-qwen", "proportional", "1")]
    assert runs[4]["backbone"] == "tiny-llama"


def test_run_row_values(grid: list[Path], tmp_path: Path) -> None:
    aggregate(grid, tmp_path / "summary")
    row = next(r for r in read(tmp_path / "summary" / "runs.csv") if r["mixture"] == "proportional")
    assert row["strategy"] == "temperature"
    assert json.loads(row["params"]) == {"tau": 1}
    assert (row["paper_backbone"], row["paper_method"]) == ("LLaMA-3-8B", "PROP. (τ=1)")
    assert (row["steps"], row["examples"]) == ("20", "80")
    assert (row["train_seconds"], row["tokens_per_second"], row["git_commit"]) == ("1.5", "800.0", "abc123")


def test_cells_copied_verbatim_and_sorted_by_step(grid: list[Path], tmp_path: Path) -> None:
    aggregate(grid[:1], tmp_path / "summary")
    log = read(tmp_path / "summary" / "train_log.csv")
    assert [r["step"] for r in log] == ["10", "20"]
    assert log[1]["loss"] == "0.123456789012"
    traj = read(tmp_path / "summary" / "trajectory.csv")
    assert [(r["step"], r["dataset"]) for r in traj] == [("0", "A"), ("0", "B"), ("20", "A"), ("20", "B")]
    assert traj[0]["reward"] == "" and traj[2]["drawn"] == "41"
    metrics = read(tmp_path / "summary" / "metrics.csv")
    assert [m["scope"] for m in metrics] == ["overall", "group", "subject"]
    assert metrics[0]["value"] == "0.35"  # seed 1 -> 0.25 + 0.1


def test_rerun_is_byte_identical(grid: list[Path], tmp_path: Path) -> None:
    aggregate(grid, tmp_path / "a")
    aggregate(list(reversed(grid)), tmp_path / "b")
    aggregate(grid, tmp_path / "c")
    for name in ("runs.csv", "metrics.csv", "train_log.csv", "trajectory.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    # the argument order decides only the backbone / mixture order, never the content
    assert sorted(read(tmp_path / "a" / "metrics.csv"), key=str) == sorted(read(tmp_path / "b" / "metrics.csv"), key=str)


def _break_json(run: Path) -> str:
    (run / "run.json").write_text("{not json")
    return "run.json"


def _drop_steps(run: Path) -> str:
    doc = json.loads((run / "run.json").read_text())
    del doc["spec"]["train"]["steps"]
    (run / "run.json").write_text(json.dumps(doc))
    return "train.steps"


def _drop_metrics(run: Path) -> str:
    (run / "eval" / "metrics.csv").unlink()
    return "metrics.csv"


def _bad_loss(run: Path) -> str:
    _write_csv(run / "train_log.csv", ["step", "loss", "lr", "tokens"], [[10, 1.0, 0.1, 5], [20, "oops", 0.1, 9]])
    return "line 3"


def _missing_column(run: Path) -> str:
    _write_csv(run / "trajectory.csv", ["step", "dataset", "weight"], [[0, "A", 0.5]])
    return "drawn"


def _bad_scope(run: Path) -> str:
    _write_csv(run / "eval" / "metrics.csv", ["benchmark", "scope", "name", "metric", "value", "n_items"],
               [["testbed_mc", "everything", "all", "acc", 0.5, 3]])
    return "everything"


@pytest.mark.parametrize("breaker", [_break_json, _drop_steps, _drop_metrics, _bad_loss, _missing_column, _bad_scope])
def test_malformed_input_names_the_file(breaker, grid: list[Path], tmp_path: Path) -> None:
    hint = breaker(grid[2])
    with pytest.raises(AggregateError) as err:
        aggregate(grid, tmp_path / "summary")
    assert str(grid[2]) in str(err.value) and hint in str(err.value)
    assert not (tmp_path / "summary").exists()  # nothing written when one run is bad


def test_duplicate_run_is_rejected(grid: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("run.json", "train_log.csv", "trajectory.csv"):
        (copy / name).write_bytes((grid[0] / name).read_bytes())
    (copy / "eval").mkdir()
    (copy / "eval" / "metrics.csv").write_bytes((grid[0] / "eval" / "metrics.csv").read_bytes())
    with pytest.raises(AggregateError, match="same run"):
        aggregate([grid[0], copy], tmp_path / "summary")


def test_cli_reports_error_and_writes(grid: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main(["--out", str(tmp_path / "summary"), *map(str, grid)])
    assert "8 runs" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="missing"):
        main(["--out", str(tmp_path / "summary"), str(tmp_path / "nowhere")])


def test_claims_written_beside_the_summary(grid: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    claims = {"alpha": 0.05, "list": [{"id": "x", "text": "MoS beats TEMP. (τ=10)", "kind": "contrast"}]}
    main(["--out", str(tmp_path / "summary"), "--claims", json.dumps(claims), *map(str, grid)])
    assert json.loads((tmp_path / "summary" / "claims.json").read_text(encoding="utf-8")) == claims
    assert "τ=10" in (tmp_path / "summary" / "claims.json").read_text(encoding="utf-8")  # readable, not escaped
    assert (tmp_path / "summary" / "runs.csv").is_file()
    main(["--out", str(tmp_path / "only"), "--claims", json.dumps(claims)])  # claims alone: an older summary
    assert sorted(p.name for p in (tmp_path / "only").iterdir()) == ["claims.json"]
    with pytest.raises(SystemExit, match="--claims: not valid JSON"):
        main(["--out", str(tmp_path / "bad"), "--claims", "{alpha"])
    with pytest.raises(SystemExit, match="with a 'list' of claims"):
        main(["--out", str(tmp_path / "bad"), "--claims", "[]"])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad")])
    assert "give run folders, --claims, or both" in capsys.readouterr().err
