"""Shared helpers of the analysis scripts: loading results/, naming, formatting, table and figure writers,
and a script's command line.

Not run by itself; every script imports it and ends with

    if __name__ == "__main__":
        raise SystemExit(common.run(write_all))      # python analysis/<script>.py [results/<exp>]

Seed statistics come from analysis/inference.py (one model for every table and figure band); the
values a table measures from analysis/values.py. Everything here reads only files under `results/`
(the summary CSVs of `python -m mos aggregate` and the paper's numbers in `results/paper/`) and writes
atomically, so a killed script never leaves a half-written table or figure.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import inference
from mos.common.io import atomic_write_text

SEED_NOTE = ("Mean over seeds [95% interval], with one σ pooled over every cell of the column "
             "(analysis/inference.py; bounded metrics on a logit scale, so the interval stays in range); "
             "no interval where no cell has two seeds.")
CSV_FLOAT_FORMAT = "%.6g"  # six significant digits: ample for accuracies in % and losses
DEFAULT_EXPERIMENT = Path(__file__).resolve().parent.parent / "snapshots" / "default"  # the committed snapshot


# ---------------------------------------------------------------- locating and loading results


def experiment_dir(argv: Sequence[str] | None = None) -> Path:
    """The results folder named by the first argument, or the checkout's committed snapshots/default.

    Inside Jupyter (the script opened as a notebook) the kernel's own arguments are ignored.
    """
    if argv is None:
        argv = [] if "ipykernel" in sys.modules else sys.argv[1:]
    path = Path(argv[0]) if argv else DEFAULT_EXPERIMENT
    if not (path / "summary").is_dir():
        raise FileNotFoundError(f"{path / 'summary'}: no summary folder; run `python -m mos aggregate` first")
    return path


REPO_PAPER_DIR = Path(__file__).resolve().parents[1] / "results" / "paper"


def paper_dir(exp: Path) -> Path:
    """results/paper/ beside results/<exp>/, else the repository's copy (runs in another
    working directory, e.g. `snakemake --directory`, still find the paper's numbers)."""
    beside = Path(exp).parent / "paper"
    return beside if beside.is_dir() else REPO_PAPER_DIR


def read_csv(path: Path, columns: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV with pandas, naming the file when it is missing or lacks a column."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df


def load_summary(exp: Path, name: str, columns: Iterable[str] = ()) -> pd.DataFrame:
    """One of results/<exp>/summary/{runs,metrics,train_log,trajectory}.csv."""
    return read_csv(Path(exp) / "summary" / f"{name}.csv", columns)


METRICS_COLUMNS = ["backbone", "mixture", "seed", "benchmark", "scope", "name", "metric", "value"]
TRAJECTORY_COLUMNS = ["backbone", "mixture", "seed", "step", "dataset", "weight"]
TRAIN_LOG_COLUMNS = ["backbone", "mixture", "seed", "step", "loss"]


def load_metrics(exp: Path) -> pd.DataFrame:
    """metrics.csv: one row per run x benchmark x scope x name x metric."""
    return load_summary(exp, "metrics", METRICS_COLUMNS)


def load_trajectory(exp: Path, required: bool = True) -> pd.DataFrame:
    """trajectory.csv (each run's sampling weights per logged step); empty when absent and not `required`."""
    if not required and not (Path(exp) / "summary" / "trajectory.csv").is_file():
        return pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    return load_summary(exp, "trajectory", TRAJECTORY_COLUMNS)


def load_train_log(exp: Path, required: bool = True) -> pd.DataFrame:
    """train_log.csv (each run's logged training loss); empty when absent and not `required`."""
    if not required and not (Path(exp) / "summary" / "train_log.csv").is_file():
        return pd.DataFrame(columns=TRAIN_LOG_COLUMNS)
    return load_summary(exp, "train_log", TRAIN_LOG_COLUMNS)


def load_paper(exp: Path, name: str, columns: Iterable[str] = ()) -> pd.DataFrame | None:
    """results/paper/<name> (paper_dir), or None when the file is absent."""
    path = paper_dir(exp) / name
    return read_csv(path, columns) if path.is_file() else None


def load_runs(exp: Path) -> pd.DataFrame:
    """runs.csv, with empty paper labels as empty strings (not NaN)."""
    runs = load_summary(exp, "runs", ["backbone", "mixture", "seed", "paper_backbone", "paper_method"])
    runs[["paper_backbone", "paper_method"]] = runs[["paper_backbone", "paper_method"]].fillna("").astype(str)
    return runs


CLAIMS_FILE = "claims.json"


def load_claims(exp: Path) -> dict | None:
    """summary/claims.json (the config's pre-declared claims, written by mos.pipeline.aggregate), or None when absent."""
    path = Path(exp) / "summary" / CLAIMS_FILE
    if not path.is_file():
        return None
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("list"), list):
        raise ValueError(f"{path}: expected an object with a 'list' of claims (python -m mos config claims CONFIG)")
    return spec


@dataclass(frozen=True)
class Inputs:
    """What Tables 2, 3 and 5, the leaderboard and the claims read of one experiment."""

    exp: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    claims: dict | None               # summary/claims.json, None when absent
    paper: pd.DataFrame | None = None  # one of the paper's tables, None when not asked for or absent


def load_inputs(exp: Path, paper_file: str | None = None, paper_columns: Iterable[str] = ()) -> Inputs:
    """runs.csv, metrics.csv and claims.json of an experiment, and the paper's `paper_file` (results/paper/)
    when named."""
    exp = Path(exp)
    paper = load_paper(exp, paper_file, paper_columns) if paper_file else None
    return Inputs(exp, load_runs(exp), load_metrics(exp), load_claims(exp), paper)


# ---------------------------------------------------------------- precision targets (power.md, headline.md)

MB_SCALE = 5.0  # a change of µMB by d moves µBOTH = (µMU + 10 µMB) / 2 by 5 d


def targets(spec: dict, metric: str) -> tuple[float, float, float]:
    """(half-width, Δ, power) targets of claims.json's `targets` in the metric's own unit."""
    t = {"half_width": 2.0, "delta": 2.0, "power": inference.POWER, **(spec.get("targets") or {})}
    unit = MB_SCALE if metric == "mu_mtbench" else 1.0
    return t["half_width"] / unit, t["delta"] / unit, t["power"]


def precision_sentence(table: pd.DataFrame, spec: dict) -> str:
    """One sentence on µBOTH from power.csv's rows: the precision of a two-arm difference over θ0s now and the
    θ0s that reach the targets (the first note of power.md and the headline's Precision line)."""
    both = table[table["metric"] == "µBOTH"]
    if both.empty:
        return "No primary contrast in µBOTH."
    half, delta, power = targets(spec, "mu_both")
    n = int(both["theta0s"].min())
    return (f"With {n} θ0s per arm (one seed each) a two-arm µBOTH difference, tested on θ0 means against its own "
            f"cells' interaction, has a 95% half-width of ±{both['half_width'].min():.2f} to "
            f"±{both['half_width'].max():.2f} and {100 * both['power_95'].min():.0f}% to "
            f"{100 * both['power_95'].max():.0f}% power at Δ = {delta:g} ({n - 1} df); at the levels Holm tests the "
            f"primary claims at, the MDE is {both['mde'].min():.2f} to {both['mde'].max():.2f}. Half-width ≤ {half:g} "
            f"and power ≥ {100 * power:.0f}% need {both['theta0s_needed'].max():.0f} θ0s at the largest observed "
            f"SD_d. A rerun on new θ0s and seeds would reach the same verdict on these µBOTH comparisons with "
            f"probability {100 * both['same_verdict'].min():.0f}% to {100 * both['same_verdict'].max():.0f}% "
            "(simulated, P(same verdict) column).")


# ---------------------------------------------------------------- naming and ordering


def run_order(runs: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Backbones and mixtures in the order they first appear in runs.csv (the config order)."""
    return list(dict.fromkeys(runs["backbone"])), list(dict.fromkeys(runs["mixture"]))


def sort_like_runs(df: pd.DataFrame, runs: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Sort rows by backbone and mixture in runs.csv order, then by the `extra` columns."""
    backbones, mixtures = run_order(runs)
    rank = {"backbone": {b: i for i, b in enumerate(backbones)}, "mixture": {m: i for i, m in enumerate(mixtures)}}

    def key(col: pd.Series) -> pd.Series:
        return col.map(rank[col.name]).fillna(len(rank[col.name])) if col.name in rank else col

    return df.sort_values(["backbone", "mixture", *extra], key=key, kind="stable").reset_index(drop=True)


def paper_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per backbone x mixture with its paper_backbone / paper_method labels."""
    return runs.drop_duplicates(["backbone", "mixture"])[["backbone", "mixture", "paper_backbone", "paper_method"]]


def label_key(label: object) -> str:
    """Spelling-insensitive key of a paper label, so 'PROP (tau=1)', 'PROP. (τ = 1)' and 'prop.(τ=1)' match."""
    text = str(label).casefold().replace("tau", "τ").replace("infinity", "∞").replace("inf", "∞")
    return "".join(ch for ch in text if not ch.isspace() and ch != ".")


def is_math_only(label: str) -> bool:
    """True for a math-only model label such as 'MATHLLAMA-3-8B' (any 'MATH…' label without a '+')."""
    key = label_key(label)
    return key.startswith("math") and "+" not in key


# ---------------------------------------------------------------- seed statistics (analysis/inference.py)


def seed_stats(df: pd.DataFrame, by: Sequence[str], value: str = "value",
               scale: inference.Scale | Mapping[str, inference.Scale] = inference.FREE,
               cells: Sequence[str] = ("backbone", "mixture")) -> pd.DataFrame:
    """Mean, 95% interval (lo, hi) and seed count n per group of `by`, σ pooled over the cells of the rest.

    `by` = the `cells` columns plus grouping columns (e.g. column, or step and dataset): the cells of each
    grouping share one pooled σ (inference.cell_intervals). Columns: by + mean, lo, hi, n.
    """
    groups = [c for c in by if c not in cells]
    cells = [c for c in by if c in cells]
    out = inference.cell_intervals(df, value, cells, groups, scale)
    return out[[*by, "mean", "lo", "hi", "n"]]


def macro_average_mismatches(metrics: pd.DataFrame, tol: float = 1e-6) -> pd.DataFrame:
    """Runs whose scope=overall value is not the unweighted mean of their scope=subject values.

    The paper's µMU is a macro-average over subjects (not over groups, not over items); this checks
    that the evaluation stage computed it that way. Returns the offending rows (empty when all agree).
    """
    keys = ["backbone", "mixture", "seed", "benchmark", "metric"]
    subjects = metrics[metrics["scope"] == "subject"].groupby(keys, sort=False)["value"].mean()
    overall = metrics[metrics["scope"] == "overall"].set_index(keys)["value"]
    both = pd.DataFrame({"overall": overall, "subject_mean": subjects}).dropna()
    return both[(both["overall"] - both["subject_mean"]).abs() > tol].reset_index()


# ---------------------------------------------------------------- one style per mixture, in every figure

# (colour, line style, marker) per paper row, keyed by label_key: a colour per family of methods
# (the paper's Figure 3 colours for its four lines) and the line style and marker telling members apart.
MIXTURE_STYLES = {
    "prop(τ=1)": ("tab:red", "-", None), "temp(τ=10)": ("tab:blue", "-", None), "uni(τ=∞)": ("tab:green", "-", None),
    "multidds": ("tab:gray", "--", "s"), "multiuat": ("tab:brown", "--", "^"),
    "mos+cossim": ("tab:purple", ":", "o"), "mos+cossim+ema": ("tab:purple", "-", "o"),
    "mos+diff": ("tab:orange", ":", "D"), "mos+diff+ema": ("tab:orange", "-", "D"),
    "mos+cossim+ema,priorτ=1": ("tab:pink", "--", "v"), "mos+cossim+ema,priorτ=10": ("tab:pink", "-.", "^"),
    "mos+diff+ema,priorτ=1": ("tab:olive", "--", "P"), "mos+diff+ema,priorτ=10": ("tab:olive", "-.", "X"),
    "mospec+cossim+ema": ("tab:cyan", "-", "*"), "mospec+diff+ema": ("tab:cyan", "--", "h"),
    "math-only": ("black", "-", "x"),
}
OTHER_STYLES = [(c, ls, None) for ls in ("-", "--", ":") for c in ("#17becf", "#bcbd22", "#7f7f7f", "#8c564b")]


def mixture_styles(labels: Mapping[str, str]) -> dict[str, dict[str, object]]:
    """mixture -> matplotlib keywords (color, linestyle, marker) from its paper label; unknown ones in turn."""
    out, others = {}, iter(OTHER_STYLES * (1 + len(labels) // len(OTHER_STYLES)))
    for mixture, label in labels.items():
        key = "math-only" if is_math_only(label) else label_key(label)
        color, ls, marker = MIXTURE_STYLES.get(key) or next(others)
        out[mixture] = {"color": color, "linestyle": ls, "marker": marker}
    return out


# ---------------------------------------------------------------- formatting


def fmt_interval(mean: float, lo: float, hi: float, digits: int = 2) -> str:
    """'31.20 [30.15, 32.25]', or '31.20' without an interval, or '–' without a value."""
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(lo) else f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_signed(mean: float, lo: float = math.nan, hi: float = math.nan, digits: int = 2) -> str:
    """'+1.20 [−0.50, +2.90]', '−0.35', or '–' without a value."""
    if pd.isna(mean):
        return "–"

    def sign(v: float) -> str:
        return f"{v:+.{digits}f}".replace("-", "−")

    return sign(mean) if pd.isna(lo) else f"{sign(mean)} [{sign(lo)}, {sign(hi)}]"


def fmt_number(value: float, digits: int = 2) -> str:
    """A number with `digits` decimals, or '–' when missing."""
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def best_rows(table: pd.DataFrame, column: str) -> pd.Series:
    """True on the row(s) with the highest `column` within each backbone (ties all marked): the bold cells."""
    best = table.groupby("backbone", sort=False)[column].transform("max")
    return table[column].notna() & (table[column] == best)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of the frame's cells as strings."""
    def cell(v: object) -> str:
        return "" if pd.isna(v) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


LATEX_REPLACEMENTS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                      "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                      "±": r"$\pm$", "τ": r"$\tau$", "∞": r"$\infty$", "µ": r"$\mu$", "μ": r"$\mu$",
                      "–": "--", "−": "$-$", "≈": r"$\approx$", "`": "", "Δ": r"$\Delta$", "θ": r"$\theta$",
                      "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$", "→": r"$\rightarrow$"}


def latex_escape(text: object) -> str:
    """Text with LaTeX's special characters escaped and a few symbols (±, τ, ∞, µ) in math mode."""
    return "".join(LATEX_REPLACEMENTS.get(ch, ch) for ch in str(text))


def latex_table(df: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs LaTeX table; '**x**' Markdown bold becomes \\textbf{x}."""
    def cell(v: object) -> str:
        if pd.isna(v):
            return ""
        text = str(v)
        if text.startswith("**") and text.endswith("**") and len(text) > 4:
            return r"\textbf{" + latex_escape(text[2:-2]) + "}"
        return latex_escape(text)

    body = [" & ".join(cell(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    return "\n".join([
        r"\begin{table}[t]", r"\centering", r"\small",
        r"\begin{tabular}{" + "l" * 2 + "r" * (len(df.columns) - 2) + "}", r"\toprule",
        " & ".join(latex_escape(c) for c in df.columns) + r" \\", r"\midrule", *body,
        r"\bottomrule", r"\end{tabular}",
        r"\caption{" + latex_escape(caption) + "}", r"\label{" + label + "}", r"\end{table}",
    ]) + "\n"


# ---------------------------------------------------------------- writers


def write_table(display: pd.DataFrame, data: pd.DataFrame, stem: Path, title: str,
                notes: Sequence[str] = ()) -> list[Path]:
    """Write `stem`.md and `stem`.tex from the display frame and `stem`.csv from the numeric frame."""
    stem = Path(stem)
    md = f"# {title}\n\n" + markdown_table(display) + "".join(f"\n{n}\n" for n in notes)
    caption = title + ("" if not notes else ". " + " ".join(notes))
    atomic_write_text(stem.with_suffix(".md"), md)
    atomic_write_text(stem.with_suffix(".tex"), latex_table(display, caption, f"tab:{stem.name}"))
    write_frame_csv(data, stem.with_suffix(".csv"))
    return [stem.with_suffix(s) for s in (".md", ".tex", ".csv")]


def write_frame_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a data frame (no index) as CSV, atomically."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format=CSV_FLOAT_FORMAT)
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def _atomic_save(path: Path, save: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_figure(fig: object, stem: Path) -> list[Path]:
    """Save a matplotlib figure as `stem`.png and `stem`.pdf, atomically and without a timestamp."""
    stem = Path(stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    _atomic_save(paths[0], lambda p: fig.savefig(p, format="png", dpi=150, bbox_inches="tight"))
    _atomic_save(paths[1], lambda p: fig.savefig(p, format="pdf", bbox_inches="tight",
                                                   metadata={"CreationDate": None}))
    return paths


# ---------------------------------------------------------------- a script's command line


def run(write_all: Callable[..., Iterable[Path]], argv: Sequence[str] | None = None, **options: str) -> int:
    """The command line of an analysis script: `python analysis/<script>.py [results/<exp>] [--OPTION PATH]`.

    Runs write_all on the experiment folder (default: the committed snapshots/default) and prints the
    paths it wrote. `options` names the script's extra options (option -> help); each one given is passed
    to write_all as a Path keyword. Inside Jupyter (the script opened as a notebook) the kernel's own
    arguments are ignored.
    """
    module = sys.modules.get(write_all.__module__)
    ap = argparse.ArgumentParser(description=((module.__doc__ if module else None) or "").split("\n", 1)[0])
    ap.add_argument("experiment", nargs="?", default=str(DEFAULT_EXPERIMENT),
                    help="results/<exp> folder with a summary/ folder (default: snapshots/default)")
    for name, text in options.items():
        ap.add_argument(f"--{name}", type=Path, help=text)
    args = ap.parse_args([] if argv is None and "ipykernel" in sys.modules else argv)
    try:
        exp = experiment_dir([args.experiment])
    except FileNotFoundError as e:
        ap.error(str(e))
    given = {name: getattr(args, name) for name in options if getattr(args, name) is not None}
    for path in write_all(exp, **given):
        print(path)
    return 0
