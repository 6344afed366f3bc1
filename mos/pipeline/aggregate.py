"""Collect finished runs into the tidy summary CSVs that the analysis scripts read.

    python -m mos aggregate --out results/<exp>/summary RUN_DIR [RUN_DIR ...] [--claims JSON]
    python -m mos aggregate --out snapshots/default/summary --claims "$(python -m mos config claims config/config.yaml)"

Each RUN_DIR is a `results/<exp>/runs/<backbone>/<mixture>/seed<k>/` folder holding `run.json`,
`train_log.csv`, `trajectory.csv`, `eval/metrics.csv` and, when the run answered a two-turn
benchmark, the judge's `eval/judge_metrics.csv` (docs/interfaces.md, "Run outputs"; both go to
`metrics.csv`).
The run's identity (backbone, mixture, seed) is read from the spec in `run.json`, never from the
folder names. Five files are written atomically to `--out`: `runs.csv`, `metrics.csv`,
`train_log.csv` (without the wall-time column, so reruns give identical files), `trajectory.csv`
and `items.csv.gz` (every run's per-item scores from `eval/items.csv` and the judge's
`eval/judge_items.csv`: MC correctness per item, judge score per turn; gzip with a fixed timestamp). Rows follow the order in which backbones and mixtures first appear among the
RUN_DIR arguments (the config order when Snakemake calls it), then the seed; rows inside a run keep
their file order, sorted by step where there is one. Cells are copied as written, not re-formatted.
A missing or malformed input stops the command with a message naming the file.
`--claims` (the config's pre-declared claims as `python -m mos config claims` resolves them) is
written to `claims.json` beside them, so the analysis reads the claims from results/ alone; given
without run folders it writes only claims.json (for summaries aggregated before claims existed).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_csv

RUN_KEY = ("backbone", "mixture", "seed")
RUNS_COLUMNS = ("backbone", "mixture", "seed", "theta0", "strategy", "params", "paper_backbone", "paper_method",
                "steps", "examples", "extra_examples", "train_seconds", "tokens_per_second", "git_commit", "machine",
                "weights")
METRICS_COLUMNS = ("benchmark", "scope", "name", "metric", "value", "n_items")
TRAIN_LOG_COLUMNS = ("step", "loss", "lr", "tokens")
TRAJECTORY_COLUMNS = ("step", "dataset", "weight", "reward", "smoothed_reward", "drawn")
METRIC_SCOPES = ("overall", "group", "skill", "subject", "turn", "category")
ITEMS_COLUMNS = ("benchmark", "item", "subject", "turn", "metric", "value")


class AggregateError(ValueError):
    """A run folder is missing a file or a file is malformed; the message names the file."""


@dataclass(frozen=True)
class TableSpec:
    """What a run's CSV must contain: required columns, numeric ones, and numeric ones that may be empty."""

    relpath: str
    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    may_be_empty: tuple[str, ...] = ()


TRAIN_LOG = TableSpec("train_log.csv", TRAIN_LOG_COLUMNS, TRAIN_LOG_COLUMNS)  # `seconds` is dropped
TRAJECTORY = TableSpec("trajectory.csv", TRAJECTORY_COLUMNS, ("step", "weight", "reward", "smoothed_reward", "drawn"),
                       may_be_empty=("reward", "smoothed_reward"))
METRICS = TableSpec("eval/metrics.csv", METRICS_COLUMNS, ("value", "n_items"), may_be_empty=("n_items",))
# The judge's grades of the two-turn benchmarks (python -m mos judge grade), when the run has them.
JUDGE_METRICS = TableSpec("eval/judge_metrics.csv", METRICS_COLUMNS, ("value", "n_items"),
                          may_be_empty=("value", "n_items"))
# Per-item scores (MC correctness per item, the judge's score per turn), when the run has them.
ITEMS = TableSpec("eval/items.csv", ITEMS_COLUMNS, ("value",), may_be_empty=("turn",))
JUDGE_ITEMS = TableSpec("eval/judge_items.csv", ITEMS_COLUMNS, ("value", "turn"), may_be_empty=("value",))


@dataclass
class Run:
    """One run folder, read and checked."""

    path: Path
    info: dict[str, Any]
    metrics: list[dict[str, str]] = field(default_factory=list)
    train_log: list[dict[str, str]] = field(default_factory=list)
    trajectory: list[dict[str, str]] = field(default_factory=list)
    items: list[dict[str, str]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, int]:
        return self.info["backbone"], self.info["mixture"], self.info["seed"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: Path, spec: TableSpec, allow_empty: bool = False) -> list[dict[str, str]]:
    """Read a run CSV, check its header and numeric cells, and return its rows as strings."""
    if not path.is_file():
        raise AggregateError(f"{path}: file is missing")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in spec.columns if c not in (reader.fieldnames or [])]
        if missing:
            raise AggregateError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        rows = [_check_row(path, reader.line_num, row, spec) for row in reader]
    if not rows and not allow_empty:
        raise AggregateError(f"{path}: no data rows")
    return rows


def _check_row(path: Path, line: int, row: dict[str, Any], spec: TableSpec) -> dict[str, str]:
    if None in row or any(row[c] is None for c in spec.columns):
        raise AggregateError(f"{path}, line {line}: wrong number of cells")
    for col in spec.numeric:
        cell = row[col]
        if cell == "" and col in spec.may_be_empty:
            continue
        if not _is_number(cell):
            raise AggregateError(f"{path}, line {line}: column {col!r} is not a number: {cell!r}")
    return {c: row[c] for c in spec.columns}


def _require(obj: Mapping[str, Any], keys: str, path: Path) -> Any:
    """Look up a dotted key such as 'train.steps', naming the file and the key when it is absent."""
    value: Any = obj
    for part in keys.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise AggregateError(f"{path}: missing key {keys!r}")
        value = value[part]
    return value


def _as_int(value: Any, key: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AggregateError(f"{path}: {key!r} must be an integer, got {value!r}")
    return value


def _optional(obj: Mapping[str, Any], *keys: str) -> Any:
    """obj[k1][k2]... or None where a level is missing."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def read_run_info(path: Path) -> dict[str, Any]:
    """Read `run.json` and return one runs.csv row (a dict over RUNS_COLUMNS)."""
    if not path.is_file():
        raise AggregateError(f"{path}: file is missing")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AggregateError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, Mapping):
        raise AggregateError(f"{path}: expected a JSON object")
    spec = _require(doc, "spec", path)
    params = _require(spec, "mixture.params", path)
    if not isinstance(params, Mapping):
        raise AggregateError(f"{path}: 'mixture.params' must be an object")
    steps = _as_int(_require(spec, "train.steps", path), "train.steps", path)
    batch_size = _as_int(_require(spec, "train.batch_size", path), "train.batch_size", path)
    paper = spec.get("paper") if isinstance(spec.get("paper"), Mapping) else {}
    return {
        "backbone": str(_require(spec, "backbone", path)),
        "mixture": str(_require(spec, "mixture.name", path)),
        "seed": _as_int(_require(spec, "seed", path), "seed", path),
        "theta0": spec.get("theta0"),
        "strategy": str(_require(spec, "mixture.strategy", path)),
        "params": json.dumps(params, sort_keys=True, ensure_ascii=False),
        "paper_backbone": paper.get("backbone"),
        "paper_method": paper.get("method"),
        "steps": steps,
        "examples": steps * batch_size,
        "extra_examples": _optional(doc, "budget", "extra_training_examples") or 0,  # dependency runs' examples
        "train_seconds": _optional(doc, "timing", "train_seconds"),
        "tokens_per_second": _optional(doc, "timing", "tokens_per_second"),
        "git_commit": _optional(doc, "provenance", "git_commit"),
        "machine": _optional(doc, "provenance", "hardware", "fingerprint"),
        "weights": json.dumps(doc["final_weights"], sort_keys=True) if isinstance(doc.get("final_weights"), Mapping)
        else None,  # the sampling weights the run ended with (a static mixture's: its only ones)
    }


def _by_step(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(rows, key=lambda r: float(r["step"]))  # stable: same-step rows keep file order


def load_run(run_dir: str | Path) -> Run:
    """Read and check every file of one run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AggregateError(f"{run_dir}: run folder is missing")
    run = Run(run_dir, read_run_info(run_dir / "run.json"))
    judged = (run_dir / JUDGE_METRICS.relpath).is_file()
    for spec in (METRICS, JUDGE_METRICS) if judged else (METRICS,):
        rows = read_table(run_dir / spec.relpath, spec, allow_empty=judged)
        for row in rows:
            if row["scope"] not in METRIC_SCOPES:
                raise AggregateError(f"{run_dir / spec.relpath}: unknown scope {row['scope']!r}; "
                                     f"expected one of {list(METRIC_SCOPES)}")
        run.metrics += rows
    for spec in (ITEMS, JUDGE_ITEMS):
        if (run_dir / spec.relpath).is_file():
            run.items += read_table(run_dir / spec.relpath, spec, allow_empty=True)
    run.train_log = _by_step(read_table(run_dir / TRAIN_LOG.relpath, TRAIN_LOG))
    run.trajectory = _by_step(read_table(run_dir / TRAJECTORY.relpath, TRAJECTORY))
    return run


def order_runs(runs: Sequence[Run]) -> list[Run]:
    """Sort by first appearance of backbone, then of mixture, then by seed; reject duplicates."""
    seen: dict[tuple[str, str, int], Path] = {}
    for run in runs:
        if run.key in seen:
            raise AggregateError(f"{run.path} and {seen[run.key]} are the same run {run.key}")
        seen[run.key] = run.path
    backbones = list(dict.fromkeys(r.info["backbone"] for r in runs))
    mixtures = list(dict.fromkeys(r.info["mixture"] for r in runs))
    return sorted(runs, key=lambda r: (backbones.index(r.key[0]), mixtures.index(r.key[1]), r.key[2]))


def _with_key(run: Run, rows: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    key = dict(zip(RUN_KEY, run.key, strict=True))
    return [{**key, **row} for row in rows]


def summary_tables(runs: Sequence[Run]) -> dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]]:
    """The summary tables as (rows, columns), keyed by file name."""
    runs = order_runs(runs)
    return {
        "runs.csv": ([r.info for r in runs], RUNS_COLUMNS),
        "metrics.csv": ([x for r in runs for x in _with_key(r, r.metrics)], RUN_KEY + METRICS_COLUMNS),
        "train_log.csv": ([x for r in runs for x in _with_key(r, r.train_log)], RUN_KEY + TRAIN_LOG_COLUMNS),
        "trajectory.csv": ([x for r in runs for x in _with_key(r, r.trajectory)], RUN_KEY + TRAJECTORY_COLUMNS),
        "items.csv.gz": ([x for r in runs for x in _with_key(r, r.items)], RUN_KEY + ITEMS_COLUMNS),
    }


def aggregate(run_dirs: Sequence[str | Path], out: str | Path) -> dict[str, int]:
    """Read every run folder, then write the summary CSVs to `out`; returns rows written per file.

    Every run is read and checked before anything is written, so a bad run leaves the old summary.
    """
    if not run_dirs:
        raise AggregateError("no run folders given")
    tables = summary_tables([load_run(d) for d in run_dirs])
    out = Path(out)
    for name, (rows, columns) in tables.items():
        write_csv(out / name, rows, columns)
    return {name: len(rows) for name, (rows, _) in tables.items()}


def write_claims(claims: str | Mapping[str, Any], out: str | Path) -> Path:
    """Write the resolved claims (a JSON object, or its text) to `out`/claims.json, key order kept."""
    if isinstance(claims, str):
        try:
            claims = json.loads(claims)
        except json.JSONDecodeError as e:
            raise AggregateError(f"--claims: not valid JSON ({e})") from e
    if not isinstance(claims, Mapping) or not isinstance(claims.get("list"), list):
        raise AggregateError("--claims: expected the object `python -m mos config claims CONFIG` prints "
                             "(with a 'list' of claims)")
    path = Path(out) / "claims.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(claims, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: exits with a message naming the bad file instead of a traceback."""
    parser = argparse.ArgumentParser(prog="python -m mos aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="summary folder, e.g. results/<exp>/summary")
    parser.add_argument("--claims", help="the resolved claims as JSON (python -m mos config claims CONFIG)")
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run folders to collect")
    args = parser.parse_args(argv)
    if not args.run_dirs and args.claims is None:
        parser.error("give run folders, --claims, or both")
    try:
        counts = aggregate(args.run_dirs, args.out) if args.run_dirs else None
        claims = write_claims(args.claims, args.out) if args.claims is not None else None
    except AggregateError as e:
        sys.exit(f"mos aggregate: error: {e}")
    if counts:
        print(f"mos aggregate: {counts['runs.csv']} runs -> {args.out} "
              + ", ".join(f"{k}: {v} rows" for k, v in counts.items()))
    if claims:
        print(f"mos aggregate: claims -> {claims}")


if __name__ == "__main__":
    main()
