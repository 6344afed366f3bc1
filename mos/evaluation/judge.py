"""Judge generated answers: MT-Bench-style single-answer grading per run, AlpacaEval-style win rates.

    python -m mos judge grade --spec @grade.json [--combined results/<exp>/runs/<b>/<m>/judge_metrics.csv]
    python -m mos judge winrate --spec @winrate.json --out results/<exp>/summary/winrate.csv
    python -m mos judge sensitivity --spec "$(python -m mos config sensitivity config/config.yaml)"
    python -m mos judge pin resources/checkpoints/smollm2-135m-instruct   # the sha256 pin of a local judge

`grade` spec: `{"judge": {...}, "samples": k, "benchmarks": {name: questions.jsonl},
"runs": [{"eval_dir": ..., "model_id": ...}, ...]}`. For every run and benchmark it reads the answers
(`<eval_dir>/<benchmark>/model_answer/<model_id>.jsonl`, written by `mos.evaluation.evaluate`), asks the judge
for k ratings of every answer turn (turn 2 is graded seeing turn 1, reference-guided where the
question has references; `mos.evaluation.grading`), and writes `<eval_dir>/<benchmark>/model_judgment/<judge>_single.jsonl`
(one line per question and turn: the k ratings, their median `score`, `spread` = max - min, the
number of unparseable replies, the judge's replies) and `<eval_dir>/judge_metrics.csv` in the tidy
metrics format: per benchmark `overall/all/score` (µMB = the mean of the turn scores, as the
paper's (Turn 1 + Turn 2) / 2), `turn/turn1|turn2/score`, `category/<c>/score`, and
`overall/all/spread` and `overall/all/unparseable` (fraction of replies without a rating).

`winrate` spec: `{"judge": {...}, "benchmark": name, "questions": path, "seed": s,
"pairs": [{"backbone", "mixture", "seed", "model": {"eval_dir", "model_id"},
"reference": {"eval_dir", "model_id", "mixture"}}]}`. Each pair's turn-1 answers are compared
question by question (the order of the two answers shown to the judge is shuffled with a seeded
generator and mapped back), the preferences are written as AlpacaEval annotations
(`<eval_dir>/<benchmark>/winrate_vs_<reference>/annotations.json`) and AlpacaEval's `get_winrate`
turns them into the win rate of the model over the reference (percent, with its standard error,
wins, losses, draws). One row per pair goes to --out.

`sensitivity`: the same answers re-judged by two judges (`mos.evaluation.sensitivity`, which
describes its spec and table). `pin`: a model's pin (weight files' SHA-256, hub commit) as YAML for
`eval.judge` (`mos.evaluation.judges.pin`).

Every judgment line records the judge's model pin (`pin`), where the judge has a model.
Judge config keys: see `mos.evaluation.judges`. Cached judges (http, local) make no call for a judgment they
have made before; every output file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_csv, write_json
from mos.common.spec import read_spec
from mos.data.records import DataError
from mos.evaluation.chat_bench import Question, answers_path, load_questions, read_answers
from mos.evaluation.grading import chat_metric_rows, grading_tasks
from mos.evaluation.judges import build_judge
from mos.evaluation.judges.base import Graded, Judge, JudgeError, PairTask, describe, pin_of
from mos.evaluation.metrics import COLUMNS, ITEM_COLUMNS

WINRATE_COLUMNS = ("backbone", "mixture", "seed", "benchmark", "reference", "judge", "win_rate", "standard_error",
                   "n_wins", "n_wins_base", "n_draws", "n_total", "discrete_win_rate")


# ---------------------------------------------------------------- single-answer grading


def judgment_lines(graded: Sequence[Graded], model_id: str, judge: Judge) -> str:
    lines = []
    pin = pin_of(judge)
    for g in graded:
        lines.append(json.dumps({
            "question_id": g.task.question_id, "category": g.task.category, "turn": g.task.turn,
            "model": model_id, "judge": judge.name, "score": g.score, "ratings": [j.rating for j in g.judgments],
            "spread": g.spread, "unparseable": g.unparseable, "judgments": [j.raw for j in g.judgments],
            **({"pin": pin} if pin is not None else {}),
        }, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def grade(spec: Mapping[str, Any], combined: str | None = None) -> list[dict[str, Any]]:
    judge = build_judge(spec.get("judge") or {})
    samples = int(spec.get("samples", 1))
    questions = {name: load_questions(path) for name, path in spec["benchmarks"].items()}
    every_row: list[dict[str, Any]] = []
    for run in spec["runs"]:
        eval_dir, model_id = Path(run["eval_dir"]), run["model_id"]
        rows: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        for name, qs in questions.items():
            source = answers_path(eval_dir, name, model_id)
            tasks = grading_tasks(qs, read_answers(source), source)
            graded = [Graded(t, js) for t, js in zip(tasks, judge.grade(tasks, samples), strict=True)]
            atomic_write_text(eval_dir / name / "model_judgment" / f"{judge.name}_single.jsonl",
                              judgment_lines(graded, model_id, judge))
            rows += chat_metric_rows(name, graded)
            items += [{"benchmark": name, "item": g.task.question_id, "subject": g.task.category,
                       "turn": g.task.turn, "metric": "score", "value": g.score} for g in graded]
        write_csv(eval_dir / "judge_items.csv", items, ITEM_COLUMNS)
        write_csv(eval_dir / "judge_metrics.csv", rows, COLUMNS)
        write_json(eval_dir / "judge.json", {"judge": describe(judge), "samples": samples})
        every_row += [{"run": str(eval_dir.parent), **r} for r in rows]
        score = next(r["value"] for r in rows if r["metric"] == "score" and r["scope"] == "overall")
        print(f"mos.evaluation.judge: {model_id}: score {score if score is None else round(score, 3)}")
    if combined:
        write_csv(combined, every_row, ["run", *COLUMNS])
    return every_row


# ---------------------------------------------------------------- pairwise win rates


def winrate_pairs(questions: Sequence[Question], model: Mapping[str, list[str]],
                  reference: Mapping[str, list[str]]) -> list[PairTask]:
    """Turn-1 answers of the model (b) against the reference model (a), question by question."""
    pairs = []
    for q in questions:
        if q.question_id not in model or q.question_id not in reference:
            raise DataError(f"question {q.question_id} lacks an answer of the model or of the reference")
        ref = q.references[0] if q.references else None
        pairs.append(PairTask(q.question_id, q.turns[0], reference[q.question_id][0], model[q.question_id][0], ref))
    return pairs


def judge_pairs(judge: Judge, pairs: Sequence[PairTask], seed: int) -> list[dict[str, Any]]:
    """AlpacaEval annotations (output_1 = reference, output_2 = model), shown in a shuffled order."""
    shown, swapped = [], []
    for pair in pairs:
        swap = random.Random(f"{seed}:{pair.question_id}").random() < 0.5
        swapped.append(swap)
        shown.append(PairTask(pair.question_id, pair.instruction, pair.answer_b, pair.answer_a, pair.reference)
                     if swap else pair)
    out = []
    for pair, swap, pref in zip(pairs, swapped, judge.compare(shown), strict=True):
        p = pref.preference
        if swap and p is not None:
            p = 3.0 - p  # 1 <-> 2, 1.5 stays
        out.append({"question_id": pair.question_id, "instruction": pair.instruction, "output_1": pair.answer_a,
                    "output_2": pair.answer_b, "preference": p, "shown_swapped": swap, "raw_completion": pref.raw})
    return out


def winrate(spec: Mapping[str, Any], out: str) -> list[dict[str, Any]]:
    from alpaca_eval.metrics import get_winrate  # imported here: it takes seconds

    judge = build_judge(spec.get("judge") or {})
    benchmark = spec["benchmark"]
    questions = load_questions(spec["questions"])
    rows = []
    for pair in spec["pairs"]:
        model, ref = pair["model"], pair["reference"]
        answers = read_answers(answers_path(model["eval_dir"], benchmark, model["model_id"]))
        ref_answers = read_answers(answers_path(ref["eval_dir"], benchmark, ref["model_id"]))
        annotations = judge_pairs(judge, winrate_pairs(questions, answers, ref_answers), int(spec.get("seed", 0)))
        for a in annotations:
            a.update(generator_1=ref["model_id"], generator_2=model["model_id"], annotator=judge.name)
        folder = Path(model["eval_dir"]) / benchmark / f"winrate_vs_{ref['mixture']}"
        write_json(folder / "annotations.json", annotations)
        valid = [a for a in annotations if a["preference"] is not None]
        stats = {k: float(v) for k, v in get_winrate(valid).items()} if valid else {}
        write_json(folder / "leaderboard.json", {"judge": judge.name, "unparseable": len(annotations) - len(valid),
                                                 **stats})
        rows.append({"backbone": pair["backbone"], "mixture": pair["mixture"], "seed": pair["seed"],
                     "benchmark": benchmark, "reference": ref["mixture"], "judge": judge.name,
                     **{k: stats.get(k) for k in WINRATE_COLUMNS[6:]}})
        print(f"mos.evaluation.judge winrate: {model['model_id']} vs {ref['model_id']}: {stats.get('win_rate')}")
    write_csv(out, rows, WINRATE_COLUMNS)
    return rows


def pin_yaml(model: str, revision: str | None = None) -> str:
    """The `eval.judge` keys that pin `model` as it is here (sha256 of its weights; revision: hub commit)."""
    from mos.evaluation.judges.pin import resolve_model

    pin = resolve_model(model, revision)
    digests = pin.sha256
    lines = [f"model: {model}"] + ([f"revision: {pin.revision}"] if pin.revision else [])
    if len(digests) == 1:
        lines.append(f"sha256: {next(iter(digests.values()))}   # {next(iter(digests))}")
    else:
        lines += ["sha256:"] + [f"  {name}: {digest}" for name, digest in digests.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="single-answer grading of every run's answers")
    g.add_argument("--spec", required=True, help="JSON, or @file.json")
    g.add_argument("--combined", help="also write all runs' metrics into this CSV (column `run`)")
    w = sub.add_parser("winrate", help="pairwise win rates against a reference mixture")
    w.add_argument("--spec", required=True, help="JSON, or @file.json")
    w.add_argument("--out", required=True, help="CSV with one row per compared pair of runs")
    s = sub.add_parser("sensitivity", help="re-judge the written answers with two judges; µMB shifts vs mixture gaps")
    s.add_argument("--spec", required=True, help="JSON, or @file.json (python -m mos config sensitivity CONFIG)")
    s.add_argument("--out", help="path prefix of the .md and .csv (default: <results>/tables/judge_sensitivity)")
    p = sub.add_parser("pin", help="print a judge model's pin (weight files' SHA-256, hub commit) for eval.judge")
    p.add_argument("model", help="a model folder, or a hub repository in the local Hugging Face cache")
    p.add_argument("--revision", help="hub: a branch, tag or commit (default: main)")
    args = ap.parse_args(argv)
    try:
        if args.command == "pin":
            print(pin_yaml(args.model, args.revision))
            return 0
        spec = read_spec(args.spec)
        if args.command == "grade":
            grade(spec, args.combined)
        elif args.command == "sensitivity":
            from mos.evaluation.sensitivity import sensitivity

            sensitivity(spec, args.out)
        else:
            winrate(spec, args.out)
    except (JudgeError, DataError, ValueError, FileNotFoundError) as e:
        print(f"mos.evaluation.judge: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
