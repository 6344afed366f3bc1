"""The judge-sensitivity report: the same written answers re-judged by two judges, checked against a
hand computation (the reference judge against a scripted judge), end to end through the command
line (an HTTP judge on the loopback fault server; the local judge on the tiny model), and degrading
to judge A's columns, saying what is missing, when judge B's model is not there."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mos.evaluation.judges.base import Judgment
from mos.evaluation.judges.pin import weight_hashes
from mos.evaluation.sensitivity import find_runs, sensitivity, sensitivity_rows
from tests.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[1]
REFS = {"q1": ("Two plus two is 4.", "Doubled it is 8."), "q2": ("Red and blue.", "Blue and red.")}
# which (question, turn) each run answers exactly (the reference judge: 10) — the rest are empty (1)
RIGHT = {("m1", 0): {("q1", 1), ("q1", 2), ("q2", 1), ("q2", 2)}, ("m1", 1): {("q1", 1), ("q1", 2)},
         ("m2", 0): {("q2", 1), ("q2", 2)}, ("m2", 1): {("q2", 1)},
         ("m3", 0): {("q1", 1)}, ("m3", 1): {("q1", 1)}}


class Scripted:
    """Judge B: a right answer to q1 is worth 9, to q2 5; anything else 2 (weighs q1 over q2)."""

    name = "scripted"

    def grade(self, tasks, samples=1):
        return [[Judgment({"q1": 9.0, "q2": 5.0}[t.question_id] if t.answers[t.turn - 1] == t.reference else 2.0,
                          "scripted")] for t in tasks]


@pytest.fixture()
def answered(tmp_path: Path) -> tuple[Path, Path]:
    """A results tree with three mixtures x two seeds of one backbone, and the questions file."""
    questions = tmp_path / "chat.jsonl"
    questions.write_text("".join(json.dumps({"id": q, "category": f"c{q}", "turns": [f"{q} first?", f"{q} then?"],
                                             "references": list(r)}) + "\n" for q, r in REFS.items()))
    for (mixture, seed), right in RIGHT.items():
        model_id = f"bb__{mixture}__seed{seed}"
        path = tmp_path / "results" / "runs" / "bb" / mixture / f"seed{seed}" / "eval" / "testbed_chat" / \
            "model_answer" / f"{model_id}.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps({"question_id": q, "model_id": model_id, "choices": [{"index": 0, "turns": [
            r[t - 1] if (q, t) in right else "" for t in (1, 2)]}]}) + "\n" for q, r in REFS.items()))
    return tmp_path / "results", questions


def spec(results: Path, questions: Path, **kw) -> dict:
    return {"results": str(results), "benchmarks": {"testbed_chat": str(questions)},
            "judge_a": {"kind": "reference"}, **kw}


def by_mixture(rows):
    return {r["mixture"]: r for r in rows}


def test_table_matches_the_hand_computation(answered, tmp_path):
    """µMB per run = mean of the turn means. A (10 right, 1 wrong): m1 seeds 10, 5.5; m2 5.5, 3.25;
    m3 3.25, 3.25 -> 7.75, 4.375, 3.25. B (q1 9, q2 5, wrong 2): m1 7, 5.5; m2 3.5, 2.75; m3 3.75, 3.75
    -> 6.25, 3.125, 3.75. Shifts -1.5, -1.25, +0.5 (mean -0.75); A orders m1 > m2 > m3, B m1 > m3 > m2:
    Spearman 1 - 6 * 2 / (3 * 8) = 0.5, one of three pairs flipped."""
    from mos.evaluation.judges.reference import ReferenceJudge

    results, questions = answered
    rows = by_mixture(sensitivity(spec(results, questions), tmp_path / "out",
                                  judges={"a": ReferenceJudge(), "b": Scripted()}))
    expect = {"m1": (7.75, 6.25, -1.5, -0.75, (3.375, 4.5), (2.5, 3.125)),
              "m2": (4.375, 3.125, -1.25, -0.5, (-3.375, 1.125), (-3.125, -0.625)),
              "m3": (3.25, 3.75, 0.5, 1.25, (-4.5, -1.125), (-2.5, 0.625))}
    for m, (mu_a, mu_b, shift, centred, diff_a, diff_b) in expect.items():
        r = rows[m]
        assert (r["mu_a"], r["mu_b"]) == pytest.approx((mu_a, mu_b)) and r["n_seeds"] == 2
        assert (r["shift"], r["centred_shift"]) == pytest.approx((shift, centred))
        assert (r["diff_a_min"], r["diff_a_max"]) == pytest.approx(diff_a)
        assert (r["diff_b_min"], r["diff_b_max"]) == pytest.approx(diff_b)
        assert (r["spread_a"], r["spread_b"]) == pytest.approx((4.5, 3.125))
        assert r["spearman"] == pytest.approx(0.5) and (r["discordant_pairs"], r["pairs"]) == (1, 3)
    written = by_mixture(read_csv(tmp_path / "out.csv"))
    assert float(written["m3"]["centred_shift"]) == pytest.approx(1.25)
    md = (tmp_path / "out.md").read_text()
    assert "| bb | m2 | 2 | 4.375 | 3.125 | -1.250 | -0.500 | [-3.375, +1.125] | [-3.125, -0.625] |" in md
    assert "| bb | 3 | 4.500 | 3.125 | 1.250 | 0.500 | 1 of 3 |" in md and "Missing" not in md


def test_rows_without_judge_b_keep_judge_a_and_undefined_correlations():
    rows = by_mixture(sensitivity_rows("t", {("b", "x", 0): 5.0, ("b", "y", 0): 3.0}, {}, "reference", ""))
    assert rows["x"]["mu_a"] == 5.0 and rows["x"]["mu_b"] is None and rows["x"]["shift"] is None
    assert (rows["y"]["diff_a_min"], rows["y"]["diff_a_max"]) == (-2.0, -2.0) and rows["x"]["spread_a"] == 2.0
    assert rows["x"]["spearman"] is None and rows["x"]["discordant_pairs"] is None
    flat = by_mixture(sensitivity_rows("t", {("b", "x", 0): 5.0, ("b", "y", 0): 3.0},
                                       {("b", "x", 0): 7.0, ("b", "y", 0): 7.0}, "a", "b"))
    assert flat["x"]["spearman"] is None and flat["y"]["shift"] == 4.0  # one judge rates all alike: no ρ


def test_find_runs_reads_backbone_mixture_and_seed_from_the_layout(answered):
    results, _ = answered
    runs = find_runs(results, "testbed_chat")
    assert [(r.backbone, r.mixture, r.seed) for r in runs] == sorted((("bb", m, s) for m, s in RIGHT))
    assert runs[0].model_id == "bb__m1__seed0" and runs[0].eval_dir.name == "eval"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_cli(spec_: dict, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mos", "judge", "sensitivity", "--spec", json.dumps(spec_),
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)


def test_command_line_with_an_http_judge_b(answered, tmp_path):
    """Judge B rates every answer 7 (the fault server): every µMB under B is 7, the shift is 7 - µMB(A)."""
    results, questions = answered
    with FaultServer(faults=["500"]) as server:
        judge_b = {"kind": "http", "base_url": server.url, "model": "judge", "backoff": 0.01,
                   "cache": str(tmp_path / "cache.jsonl")}
        proc = run_cli(spec(results, questions, judge_b=judge_b), tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    rows = by_mixture(read_csv(tmp_path / "t.csv"))
    assert {m: float(r["shift"]) for m, r in rows.items()} == pytest.approx({"m1": -0.75, "m2": 2.625, "m3": 3.75})
    assert all(r["spearman"] == "" and float(r["spread_b"]) == 0.0 for r in rows.values())
    assert "Missing" not in (tmp_path / "t.md").read_text()


def test_a_served_judge_b_that_is_not_the_pinned_model_degrades(answered, tmp_path):
    results, questions = answered
    with FaultServer(models=[{"id": "judge", "revision": "r1"}]) as server:
        judge_b = {"kind": "http", "base_url": server.url, "model": "judge", "revision": "r2",
                   "cache": str(tmp_path / "cache.jsonl")}
        proc = run_cli(spec(results, questions, judge_b=judge_b), tmp_path / "t")
        assert proc.returncode == 0, proc.stderr
        assert not server.requests  # nothing is judged by a model that is not the pinned one
    md = (tmp_path / "t.md").read_text()
    assert "judge B failed on testbed_chat" in md and "reports r1, the config pins r2" in md
    assert "| bb | m3 | 2 | 3.250 | — |" in md


def test_a_missing_local_judge_degrades_to_judge_a_and_says_what_is_missing(answered, tmp_path):
    results, questions = answered
    absent = tmp_path / "no-such-model"
    proc = run_cli(spec(results, questions, judge_b={"kind": "local", "model": str(absent), "sha256": "0" * 64}),
                   tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "t.md").read_text()
    assert "## Missing" in md and str(absent) in md and "python -m mos checkpoint smollm2-135m-instruct" in md
    assert "| bb | m1 | 2 | 7.750 | — |" in md and "Judge B: not available" in md
    assert "thing(s) missing" in proc.stdout


def test_the_local_judge_on_the_tiny_model_as_judge_b(answered, tiny_model_dir, tmp_path):
    """The default's shape: the reference judge against the pinned in-process local judge, on a
    stratified subsample of one question; the pin is in the report."""
    results, questions = answered
    digest = next(iter(weight_hashes(tiny_model_dir).values()))
    judge_b = {"kind": "local", "model": str(tiny_model_dir), "sha256": digest, "cache": str(tmp_path / "c.jsonl")}
    proc = run_cli(spec(results, questions, judge_b=judge_b, max_questions=1), tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == 3 and all(1.0 <= float(r["mu_b"]) <= 10.0 for r in rows)
    md = (tmp_path / "t.md").read_text()
    assert digest in md and "1 of 2 questions" in md and "weak judge" in md
