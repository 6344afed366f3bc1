"""Summary statistics of the data and models actually used, for the paper's Tables 1 and 6.

    python -m mos stats datasets --dataset Mathematics=resources/<exp>/datasets/Mathematics.jsonl ... \\
        --out results/<exp>/summary/datasets.csv
    python -m mos stats ppl --base tiny-llama/theta0=resources/<exp>/base_ppl/tiny-llama/theta0.csv ... \\
        --out results/<exp>/summary/ppl.csv RUN_DIR [RUN_DIR ...]

`datasets` (Table 1) counts, per training dataset in the record format, the examples, the words
(whitespace-separated, of every user and assistant message; a leading system message is not
counted), the mean instruction length (words per user message), the mean response length (words
per assistant message) and the mean number of turns (user messages per example), then a `Total`
row: sums of examples and words, lengths averaged over every turn of every dataset and turns over
every example. That is how the paper's Total row is built: its Inst.L (88.4) is the per-dataset
lengths weighted by turns (examples x Turns), not by examples (which gives 96.2).
Columns: dataset, examples, words, instruction_len_words, response_len_words, turns, turns_total,
instruction_words, response_words.

`ppl` (Table 6) joins each RUN_DIR's `ppl.csv` (the fine-tuned model's perplexities, written by
`python -m mos base-ppl` into the run folder) with θ0's perplexities of the same examples
(`--base BACKBONE/theta<k>=CSV`, the run's backbone and θ0 read from its run.json) and writes one row per run x
dataset x scope: backbone, mixture, seed, dataset, scope (response: Eq. 9 of the paper;
sequence: the whole chat-templated text, as the authors' code), n_examples, ppl_base and
ppl_tuned (the mean over the examples of each example's perplexity), ratio = ppl_tuned / ppl_base
(the paper's Δ) and mean_ratio (the mean of the per-example ratios, what the DIFF reward averages).
Every input is checked before anything is written; errors name the file.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.common.io import write_csv
from mos.data.records import DataError, load_records

DATASET_COLUMNS = ("dataset", "examples", "words", "instruction_len_words", "response_len_words", "turns",
                   "turns_total", "instruction_words", "response_words")
PPL_COLUMNS = ("backbone", "mixture", "seed", "theta0", "dataset", "scope", "n_examples", "ppl_base", "ppl_tuned",
               "ratio", "mean_ratio")
SCOPES = ("response", "sequence")  # column ppl_<scope> of mos.training.base_ppl's CSV
TOTAL = "Total"


class StatsError(ValueError):
    """A missing or malformed input; the message names the file."""


# ---------------------------------------------------------------- Table 1: dataset statistics


def words(text: str) -> int:
    """Whitespace-separated words, the paper's length unit."""
    return len(text.split())


def record_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """examples, turns_total (user messages), instruction_words, response_words of some records."""
    out = {"examples": 0, "turns_total": 0, "instruction_words": 0, "response_words": 0, "responses": 0}
    for rec in records:
        out["examples"] += 1
        for msg in rec["conversations"]:
            if msg["role"] == "user":
                out["turns_total"] += 1
                out["instruction_words"] += words(msg["content"])
            elif msg["role"] == "assistant":
                out["responses"] += 1
                out["response_words"] += words(msg["content"])
    return out


def stats_row(name: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """One datasets.csv row from summed counts (a dataset, or the Total of all)."""
    turns, responses = counts["turns_total"], counts["responses"]
    return {"dataset": name, "examples": counts["examples"],
            "words": counts["instruction_words"] + counts["response_words"],
            "instruction_len_words": counts["instruction_words"] / turns if turns else math.nan,
            "response_len_words": counts["response_words"] / responses if responses else math.nan,
            "turns": turns / counts["examples"] if counts["examples"] else math.nan,
            "turns_total": turns, "instruction_words": counts["instruction_words"],
            "response_words": counts["response_words"]}


def dataset_stats(datasets: Mapping[str, str | Path]) -> list[dict[str, Any]]:
    """Rows of datasets.csv: one per dataset (in the given order), then the Total row."""
    if not datasets:
        raise StatsError("no datasets given")
    if TOTAL in datasets:
        raise StatsError(f"a dataset may not be named {TOTAL!r} (the name of the sum row)")
    per: dict[str, dict[str, int]] = {}
    for name, path in datasets.items():
        try:
            per[name] = record_counts(load_records(path))
        except (DataError, OSError) as e:
            raise StatsError(f"{path}: {e}") from e
    total = {k: sum(c[k] for c in per.values()) for k in next(iter(per.values()))}
    return [stats_row(n, c) for n, c in per.items()] + [stats_row(TOTAL, total)]


# ---------------------------------------------------------------- Table 6: the perplexity study


def _read_ppl(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    """(dataset, index) -> {"response": ppl, "sequence": ppl} from a mos.training.base_ppl CSV."""
    if not path.is_file():
        raise StatsError(f"{path}: file is missing")
    out: dict[tuple[str, int], dict[str, float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = ["dataset", "index", *(f"ppl_{s}" for s in SCOPES)]
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise StatsError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        for row in reader:
            try:
                out[row["dataset"], int(row["index"])] = {s: float(row[f"ppl_{s}"]) for s in SCOPES}
            except (TypeError, ValueError) as e:
                raise StatsError(f"{path}, line {reader.line_num}: {e}") from e
    if not out:
        raise StatsError(f"{path}: no data rows")
    return out


def _run_key(run_dir: Path) -> tuple[str, str, int, int]:
    """(backbone, mixture, seed, θ0) of a run folder, from its run.json (θ0 0 when not recorded)."""
    path = run_dir / "run.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))["spec"]
        return str(spec["backbone"]), str(spec["mixture"]["name"]), int(spec["seed"]), int(spec.get("theta0") or 0)
    except FileNotFoundError:
        raise StatsError(f"{path}: file is missing") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise StatsError(f"{path}: no spec.backbone / spec.mixture.name / spec.seed ({e!r})") from e


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def ppl_rows(key: tuple[str, str, int, int], tuned: Mapping[tuple[str, int], Mapping[str, float]],
             base: Mapping[tuple[str, int], Mapping[str, float]], where: str) -> list[dict[str, Any]]:
    """ppl.csv rows of one run: per dataset (file order) and scope, the means over its examples."""
    missing = [k for k in tuned if k not in base]
    if missing:
        raise StatsError(f"{where}: {len(missing)} example(s) have no base perplexity, e.g. {missing[:3]}; "
                         "the study's examples must come from θ0's probe pool (same seed)")
    rows = []
    for dataset in dict.fromkeys(d for d, _ in tuned):
        ids = [k for k in tuned if k[0] == dataset]
        for scope in SCOPES:
            t = [tuned[k][scope] for k in ids]
            b = [base[k][scope] for k in ids]
            ppl_base, ppl_tuned = _mean(b), _mean(t)
            rows.append({"backbone": key[0], "mixture": key[1], "seed": key[2], "theta0": key[3], "dataset": dataset,
                         "scope": scope, "n_examples": len(ids), "ppl_base": ppl_base, "ppl_tuned": ppl_tuned,
                         "ratio": ppl_tuned / ppl_base, "mean_ratio": _mean([x / y for x, y in zip(t, b, strict=True)])})
    return rows


def ppl_summary(run_dirs: Sequence[str | Path], base: Mapping[str, str | Path]) -> list[dict[str, Any]]:
    """Rows of summary/ppl.csv for the given run folders, in their order."""
    if not run_dirs:
        raise StatsError("no run folders given")
    base_cache: dict[str, dict[tuple[str, int], dict[str, float]]] = {}
    rows, seen = [], set()
    for run_dir in map(Path, run_dirs):
        key = _run_key(run_dir)
        if key in seen:
            raise StatsError(f"{run_dir}: run {key} is given twice")
        seen.add(key)
        name = f"{key[0]}/theta{key[3]}"
        if name not in base:
            raise StatsError(f"{run_dir}: no --base CSV for θ0 {name!r}; given: {', '.join(base) or 'none'}")
        if name not in base_cache:
            base_cache[name] = _read_ppl(Path(base[name]))
        rows += ppl_rows(key, _read_ppl(run_dir / "ppl.csv"), base_cache[name], str(run_dir / "ppl.csv"))
    return rows


# ---------------------------------------------------------------- command line


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise StatsError(f"{flag} {item!r}: expected NAME=PATH")
        out[name] = value
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mos stats", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ds = sub.add_parser("datasets", help="Table 1: statistics of the training datasets")
    ds.add_argument("--dataset", action="append", required=True, metavar="NAME=PATH")
    ds.add_argument("--out", required=True, help="CSV file, e.g. results/<exp>/summary/datasets.csv")
    pp = sub.add_parser("ppl", help="Table 6: fine-tuned vs base perplexities per dataset")
    pp.add_argument("--base", action="append", required=True, metavar="BACKBONE/theta<k>=CSV",
                    help="θ0's perplexities, one per θ0 of the runs (python -m mos base-ppl)")
    pp.add_argument("--out", required=True, help="CSV file, e.g. results/<exp>/summary/ppl.csv")
    pp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    args = ap.parse_args(argv)
    try:
        if args.command == "datasets":
            rows, columns = dataset_stats(_pairs(args.dataset, "--dataset")), DATASET_COLUMNS
        else:
            rows, columns = ppl_summary(args.run_dirs, _pairs(args.base, "--base")), PPL_COLUMNS
    except StatsError as e:
        sys.exit(f"mos.pipeline.descriptives: error: {e}")
    write_csv(Path(args.out), rows, columns)
    print(f"mos.pipeline.descriptives {args.command}: {len(rows)} rows -> {args.out}")


if __name__ == "__main__":
    main()
