"""Judge sensitivity: the same cached answers re-judged by two judges, and how far each mixture's µMB
moves compared with the differences between mixtures.

    python -m mos judge sensitivity --spec "$(python -m mos config sensitivity config/config.yaml)"
    snakemake judge_sensitivity --cores all      # the same, as an optional workflow target

Spec: `{"results": "results/<exp>", "benchmarks": {name: questions.jsonl}, "judge_a": {...},
"judge_b": {...}, "samples": k, "max_questions": n | null, "seed": s}` (judges as `eval.judge`).
The answers are the ones evaluation already wrote,
`<results>/runs/<backbone>/<mixture>/seed<k>/eval/<benchmark>/model_answer/<model_id>.jsonl`;
nothing is generated. With `max_questions` every run is judged on the same seeded subsample of the
questions, stratified by category (`mos.evaluation.subset.choose`), as a small local judge on a CPU
cannot afford every answer of every run. A run's µMB under a judge is computed as `mos judge grade`
computes it (the mean of the turn means, `mos.evaluation.grading.chat_metric_rows`); a cell's µMB is the
mean over its seeds.

Written to `<results>/tables/judge_sensitivity.{md,csv}` (or `--out PREFIX`), per benchmark and cell
(backbone x mixture): µMB under A and B; the shift B - A; the shift less the backbone's mean shift
(the part of the move that changes comparisons between mixtures: a judge that is stricter on every
mixture alike moves no conclusion); the range [min, max] of this mixture's differences to the
backbone's other mixtures under A and under B; and per backbone the spread of the mixtures' µMB
(max - min) under each judge, Spearman's rank correlation of the mixtures under the two judges
(scipy.stats.spearmanr) and how many pairs of mixtures the two judges order differently.

A judge that cannot be built (e.g. the local model is not there, or its weights are not the pinned
ones) or fails to judge leaves its columns empty, and the report says what is missing and how to get
it, so the report degrades instead of failing.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_csv
from mos.data.records import DataError
from mos.evaluation.chat_bench import Question, load_questions, read_answers
from mos.evaluation.grading import chat_metric_rows, grading_tasks
from mos.evaluation.judges import build_judge
from mos.evaluation.judges.base import Graded, Judge, JudgeError, describe

COLUMNS = ("benchmark", "backbone", "mixture", "n_seeds", "judge_a", "judge_b", "mu_a", "mu_b", "shift",
           "centred_shift", "diff_a_min", "diff_a_max", "diff_b_min", "diff_b_max", "spread_a", "spread_b",
           "spearman", "discordant_pairs", "pairs")
WEAK_JUDGE = ("Judge B is a small local model (about 135M parameters for SmolLM2-135M-Instruct): a weak judge, "
              "whose ratings follow surface features of the answers more than their quality. This table "
              "measures how much the mixtures' µMB and their order depend on the judge, not which judge is right.")
MAKE_DEFAULT_JUDGE = "python -m mos checkpoint smollm2-135m-instruct --out resources/checkpoints/smollm2-135m-instruct"
# The default judge B: SmolLM2-135M-Instruct as `python -m mos checkpoint` converts it (transformers 5.25
# writes these bytes; another version may write others: `python -m mos judge pin <folder>` prints the new pin)
DEFAULT_JUDGE_B = {"kind": "local", "model": "resources/checkpoints/smollm2-135m-instruct",
                   "sha256": "a672150fb4f99d7c8f4168cecdd464069c0ef3a37d8113f22ddb9d48031d03cd"}


@dataclass(frozen=True)
class AnsweredRun:
    backbone: str
    mixture: str
    seed: int
    eval_dir: Path
    model_id: str
    answers: Path


def find_runs(results: str | Path, benchmark: str) -> list[AnsweredRun]:
    """Every run's answer file of `benchmark` under `<results>/runs/*/*/seed*/eval/`."""
    found = []
    for path in sorted(Path(results).glob(f"runs/*/*/seed*/eval/{benchmark}/model_answer/*.jsonl")):
        eval_dir = path.parents[2]
        seed_dir = eval_dir.parent
        try:
            seed = int(seed_dir.name.removeprefix("seed"))
        except ValueError:
            continue
        found.append(AnsweredRun(seed_dir.parent.parent.name, seed_dir.parent.name, seed, eval_dir, path.stem, path))
    return found


def pick_questions(questions: Sequence[Question], n: int | None, seed: int) -> list[Question]:
    """All questions, or a seeded subsample of `n` stratified by category (the same for every run)."""
    if n is None:
        return list(questions)
    from mos.evaluation.subset import choose

    return [questions[i] for i in choose([{"category": q.category} for q in questions], n, seed)]


def run_score(judge: Judge, benchmark: str, questions: Sequence[Question], run: AnsweredRun, samples: int) -> float | None:
    """A run's µMB under `judge`, as `mos judge grade` computes it."""
    tasks = grading_tasks(questions, read_answers(run.answers), run.answers)
    graded = [Graded(t, js) for t, js in zip(tasks, judge.grade(tasks, samples), strict=True)]
    return next(r["value"] for r in chat_metric_rows(benchmark, graded)
                if (r["scope"], r["metric"]) == ("overall", "score"))


# ---------------------------------------------------------------- the table's arithmetic


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return None  # undefined: fewer than two mixtures, or one judge rates them all alike
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def sensitivity_rows(benchmark: str, scores_a: Mapping[tuple[str, str, int], float | None],
                     scores_b: Mapping[tuple[str, str, int], float | None], judge_a: str,
                     judge_b: str) -> list[dict[str, Any]]:
    """One row per cell (backbone, mixture) from per-run µMB under judges A and B (see the module
    docstring); B's columns are empty where B has no score."""
    cells: dict[tuple[str, str], list[int]] = {}
    for b, m, s in sorted(scores_a):
        cells.setdefault((b, m), []).append(s)
    rows = []
    for backbone in dict.fromkeys(b for b, _ in cells):
        mixtures = [m for b, m in cells if b == backbone]
        mu: dict[str, dict[str, float | None]] = {"a": {}, "b": {}}
        n_seeds = {}
        for m in mixtures:
            seeds = cells[(backbone, m)]
            a = [scores_a[(backbone, m, s)] for s in seeds]
            bs = [scores_b.get((backbone, m, s)) for s in seeds]
            both = [(x, y) for x, y in zip(a, bs, strict=True) if x is not None]
            n_seeds[m] = len(both)
            mu["a"][m] = _mean([x for x, _ in both])
            mu["b"][m] = _mean([y for _, y in both]) if both and all(y is not None for _, y in both) else None
        scored = {j: {m: v for m, v in mu[j].items() if v is not None} for j in "ab"}
        shifts = {m: mu["b"][m] - mu["a"][m] for m in mixtures if m in scored["a"] and m in scored["b"]}
        mean_shift = _mean(list(shifts.values()))
        paired = [m for m in mixtures if m in shifts]
        spearman = _spearman([mu["a"][m] for m in paired], [mu["b"][m] for m in paired])
        pairs = list(itertools.combinations(paired, 2))
        discordant = sum((mu["a"][x] - mu["a"][y]) * (mu["b"][x] - mu["b"][y]) < 0 for x, y in pairs)
        spread = {j: (max(scored[j].values()) - min(scored[j].values())) if scored[j] else None for j in "ab"}
        for m in mixtures:
            row: dict[str, Any] = {"benchmark": benchmark, "backbone": backbone, "mixture": m,
                                   "n_seeds": n_seeds[m], "judge_a": judge_a, "judge_b": judge_b,
                                   "mu_a": mu["a"][m], "mu_b": mu["b"][m], "shift": shifts.get(m),
                                   "centred_shift": shifts[m] - mean_shift if m in shifts else None,
                                   "spread_a": spread["a"], "spread_b": spread["b"], "spearman": spearman,
                                   "discordant_pairs": discordant if pairs else None, "pairs": len(pairs)}
            for j in "ab":
                own = scored[j].get(m)
                diffs = [own - v for o, v in scored[j].items() if o != m] if own is not None else []
                row[f"diff_{j}_min"], row[f"diff_{j}_max"] = (min(diffs), max(diffs)) if diffs else (None, None)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- the report


def _f(value: Any, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _range(lo: Any, hi: Any) -> str:
    return "—" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]"


def render(rows: Sequence[Mapping[str, Any]], judges: Mapping[str, Mapping[str, Any] | None],
           missing: Sequence[str], notes: Sequence[str], source: str) -> str:
    """The Markdown report: judges, per cell and per backbone tables, what is missing."""
    out = [f"# Judge sensitivity: the same answers, two judges ({source})", ""]
    for j in ("a", "b"):
        d = judges.get(j)
        about = ", ".join(f"{k}: {json.dumps(v) if isinstance(v, dict) else v}" for k, v in (d or {}).items()
                          if k != "name" and v is not None)
        out.append(f"- Judge {j.upper()}: " + (f"`{d['name']}`" + (f" — {about}" if about else "") if d
                                               else "not available"))
    out += ["", "Per cell: µMB under each judge (mean over seeds of the mean of the turn means), the shift B − A, "
            "the shift less the backbone's mean shift (what moves comparisons: a judge stricter on every mixture "
            "alike moves none), and the range of this mixture's differences to the backbone's other mixtures "
            "under each judge. Where |shift − mean shift| is as large as those differences, the judge decides "
            "the comparison.", *[f"\n{n}" for n in notes], ""]
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        sub = [r for r in rows if r["benchmark"] == bench]
        out += [f"## {bench}", "",
                "| backbone | mixture | seeds | µMB A | µMB B | shift B−A | shift − mean shift | A: vs other mixtures "
                "| B: vs other mixtures |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
        out += [f"| {r['backbone']} | {r['mixture']} | {r['n_seeds']} | {_f(r['mu_a'])} | {_f(r['mu_b'])} | "
                f"{_f(r['shift'], True)} | {_f(r['centred_shift'], True)} | {_range(r['diff_a_min'], r['diff_a_max'])} "
                f"| {_range(r['diff_b_min'], r['diff_b_max'])} |" for r in sub]
        out += ["", "| backbone | mixtures | spread A (max − min) | spread B | largest \\|shift − mean shift\\| "
                "| Spearman ρ (A, B) | pairs ordered differently |", "|---|---:|---:|---:|---:|---:|---:|"]
        for backbone in dict.fromkeys(r["backbone"] for r in sub):
            cell = [r for r in sub if r["backbone"] == backbone]
            centred = [abs(r["centred_shift"]) for r in cell if r["centred_shift"] is not None]
            first = cell[0]
            flips = "—" if first["discordant_pairs"] is None else f"{first['discordant_pairs']} of {first['pairs']}"
            out.append(f"| {backbone} | {len(cell)} | {_f(first['spread_a'])} | {_f(first['spread_b'])} | "
                       f"{_f(max(centred) if centred else None)} | {_f(first['spearman'])} | {flips} |")
        out.append("")
    if missing:
        out += ["## Missing", "", *[f"- {m}" for m in missing], ""]
    return "\n".join(out)


def _describe(judge: Judge | None) -> dict[str, Any] | None:
    if judge is None:
        return None
    try:
        return describe(judge)
    except (JudgeError, ValueError):  # a served judge whose pin check failed: its failure is under Missing
        return {"name": judge.name}


def _build(config: Mapping[str, Any] | None, label: str, missing: list[str]) -> Judge | None:
    if not config:
        missing.append(f"judge {label}: no judge configured")
        return None
    try:
        return build_judge(config)
    except (ValueError, OSError, ImportError, JudgeError) as e:  # PinError and FileNotFoundError included
        hint = ""
        if config.get("kind") == "local" and not Path(str(config.get("model", ""))).exists():
            hint = f"; the default local judge is made by `{MAKE_DEFAULT_JUDGE}`"
        missing.append(f"judge {label} ({config.get('kind')}, {config.get('model') or config.get('scoring')}) "
                       f"is not available: {e}{hint}")
        return None


def sensitivity(spec: Mapping[str, Any], out: str | Path | None = None,
                judges: Mapping[str, Judge | None] | None = None) -> list[dict[str, Any]]:
    """Judge every answered run with judges A and B, write the table (md, csv), return its rows.
    `judges` ({"a": ..., "b": ...}) replaces the spec's judge configs (tests: a scripted judge)."""
    results = Path(spec["results"])
    samples, seed, n = int(spec.get("samples", 1)), int(spec.get("seed", 0)), spec.get("max_questions")
    prefix = Path(out) if out else results / "tables" / "judge_sensitivity"
    missing: list[str] = []
    if judges is None:
        judges = {"a": _build(spec.get("judge_a"), "A", missing), "b": _build(spec.get("judge_b"), "B", missing)}
    elif judges.get("b") is None:
        missing.append("judge B: none given")
    if judges["a"] is None:
        raise JudgeError("; ".join(missing))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for bench, path in spec["benchmarks"].items():
        runs = find_runs(results, bench)
        if not runs:
            raise DataError(f"no answers of {bench} under {results}/runs/*/*/seed*/eval/{bench}/model_answer/: "
                            "evaluate the runs first (snakemake)")
        every = load_questions(path)
        questions = pick_questions(every, n, seed)
        notes.append(f"{bench}: {len(runs)} runs, {len(questions)} of {len(every)} questions "
                     f"({'all' if len(questions) == len(every) else f'a stratified subsample, seed {seed}'}), "
                     f"{sum(len(q.turns) for q in questions)} judged turns per run and judge.")
        scores: dict[str, dict[tuple[str, str, int], float | None]] = {"a": {}, "b": {}}
        for j in ("a", "b"):
            if judges[j] is None:
                continue
            try:
                for k, run in enumerate(runs, 1):
                    scores[j][(run.backbone, run.mixture, run.seed)] = run_score(judges[j], bench, questions,
                                                                                  run, samples)
                    print(f"mos judge sensitivity: {bench} judge {j.upper()} {k}/{len(runs)} {run.model_id}",
                          flush=True)
            except (JudgeError, ValueError) as e:  # PinError (a served model not the pinned one) included
                if j == "a":
                    raise
                missing.append(f"judge B failed on {bench} (the scores it made are left out): {e}")
                scores["b"] = {}
        rows += sensitivity_rows(bench, scores["a"], scores["b"], judges["a"].name,
                                 judges["b"].name if judges["b"] else "")
    described = {j: _describe(judge) for j, judge in judges.items()}
    if (spec.get("judge_b") or {}).get("kind") == "local":
        notes.append(WEAK_JUDGE)
    write_csv(f"{prefix}.csv", rows, COLUMNS)
    atomic_write_text(f"{prefix}.md", render(rows, described, missing, notes, str(results)) + "\n")
    print(f"mos judge sensitivity: {len(rows)} cells -> {prefix}.md, {prefix}.csv"
          + (f" ({len(missing)} thing(s) missing: see the report)" if missing else ""))
    return rows
