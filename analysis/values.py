"""The value extractors: what every table, figure and claim measures, from summary/*.csv and results/paper/.

Not run by itself; the scripts and analysis/claims.py import it:

    from analysis import common, values
    inputs = common.load_inputs(Path("results/default"))
    per_run = values.metric_values(inputs.metrics, inputs.runs)   # metric -> backbone, mixture, seed, value

One place for each number: µMU and its MMLU groups or skills (`long_values`), µMB and its turns
(`chat_values`), µBOTH = (µMU + 10 · µMB) / 2 per seed (`mu_both_values`), µALL and its math components
(`component_values`), a run's first and last sampling weight (`start_end`), and every claim metric per run
(`metric_values`); the paper's Tables 2, 3 and 5 (`paper_tables`) and its digitized weight curves
(`load_paper_curves`, `paper_weight_changes`). Long frames have columns backbone, mixture, seed,
column, value; accuracies in %, judge scores on 1-10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import common, inference

# metric -> (header, scale) of the per-run metrics the claims, the leaderboard and the reproduction compare
METRICS = {"mu_mmlu": ("µMU", inference.PERCENT), "mu_mtbench": ("µMB", inference.SCORE),
           "mu_both": ("µBOTH", inference.BOTH), "mu_all": ("µALL", inference.PERCENT),
           "train_loss": ("final training loss", inference.POSITIVE)}
FINAL_FRACTION = 0.1  # the final training loss: the mean logged loss over the last 10% of logged steps
HEADLINE = ("mu_mmlu", "mu_mtbench", "mu_both")  # Table 2's three, in its order
WEIGHT = "weight_change"  # metric_values key prefix: weight_change:<dataset>

# ---------------------------------------------------------------- µMU: multiple-choice benchmarks (Table 2)

PREFERRED_METRIC = "acc"
PREFERRED_BENCHMARK = "testbed_mc"  # the µMU of Tables 3 and 5 and of the claims, when present
# (scope, name in metrics.csv) -> (column key, header); the keys match results/paper/table2_main.csv.
GROUP_COLUMNS = {
    ("overall", None): ("mu_mmlu", "µMU"),
    ("group", "Mathematics"): ("mmlu_math", "Math"),
    ("group", "Medicine"): ("mmlu_medicine", "Med."),
    ("group", "Others"): ("mmlu_others", "Others"),
}
SKILL_ORDER = ("Mathematics", "Medicine", "General", "NLP")
Spec = dict[tuple[str, str | None], tuple[str, str]]  # (scope, name) -> (column key, header)


def mc_benchmarks(metrics: pd.DataFrame) -> list[str]:
    """Benchmarks that have scope=group rows (the MMLU-like ones), in metrics.csv order."""
    return list(dict.fromkeys(metrics.loc[metrics["scope"] == "group", "benchmark"]))


def pick_benchmark(metrics: pd.DataFrame, preferred: str = PREFERRED_BENCHMARK) -> str | None:
    """testbed_mc when metrics.csv has it, else the first benchmark with group rows (an MMLU), else None."""
    found = mc_benchmarks(metrics)
    return preferred if preferred in found else (found[0] if found else None)


def pick_metric(metrics: pd.DataFrame, benchmark: str) -> str:
    """'acc' when the benchmark reports it, else the first metric it reports."""
    found = list(dict.fromkeys(metrics.loc[metrics["benchmark"] == benchmark, "metric"]))
    return PREFERRED_METRIC if PREFERRED_METRIC in found else found[0]


def column_spec(metrics: pd.DataFrame, kind: str) -> Spec:
    """(scope, name) -> (column key, header) for the 'group' table or the 'skill' table."""
    if kind == "group":
        return GROUP_COLUMNS
    found = list(dict.fromkeys(metrics.loc[metrics["scope"] == "skill", "name"]))
    skills = [s for s in SKILL_ORDER if s in found] + [s for s in found if s not in SKILL_ORDER]
    return {("overall", None): ("mu_mmlu", "µMU"),
            **{("skill", s): (f"skill_{s.lower()}", s) for s in skills}}


def long_values(metrics: pd.DataFrame, benchmark: str, metric: str, spec: Spec) -> pd.DataFrame:
    """Rows backbone, mixture, seed, column, value (in %) for the wanted scopes of one benchmark."""
    rows = metrics[(metrics["benchmark"] == benchmark) & (metrics["metric"] == metric)]
    parts = []
    for (scope, name), (key, _) in spec.items():
        sel = rows[rows["scope"] == scope]
        if name is not None:
            sel = sel[sel["name"] == name]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=100 * sel["value"]))
    return pd.concat(parts, ignore_index=True)


def per_seed(metrics: pd.DataFrame, benchmark: str | None, spec: Spec) -> tuple[pd.DataFrame, str]:
    """long_values of one benchmark with its pick_metric, and the metric used (empty without a benchmark)."""
    if benchmark is None:
        return pd.DataFrame(columns=["backbone", "mixture", "seed", "column", "value"]), ""
    metric = pick_metric(metrics, benchmark)
    return long_values(metrics, benchmark, metric, spec), metric


# ---------------------------------------------------------------- µMB and µBOTH: the judged benchmark

CHAT_BENCHMARKS = ("mt_bench", "testbed_chat")  # the MT-Bench column's source, in order of preference
# (scope, name) of the judged benchmark -> (column key, header); values stay on the 1-10 scale.
CHAT_COLUMNS = {("overall", "all"): ("mu_mtbench", "µMB"), ("turn", "turn1"): ("mtbench_turn1", "Turn 1"),
                ("turn", "turn2"): ("mtbench_turn2", "Turn 2")}
MU_BOTH = ("mu_both", "µBOTH")


def chat_benchmark(metrics: pd.DataFrame) -> str | None:
    """The judged two-turn benchmark whose score fills the MT-Bench columns (None if there is none)."""
    found = set(metrics.loc[metrics["metric"] == "score", "benchmark"])
    return next((b for b in CHAT_BENCHMARKS if b in found), None)


def chat_values(metrics: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Rows backbone, mixture, seed, column, value for µMB and the two turns (1-10 scale)."""
    rows = metrics[(metrics["benchmark"] == benchmark) & (metrics["metric"] == "score")]
    parts = []
    for (scope, name), (key, _) in CHAT_COLUMNS.items():
        sel = rows[(rows["scope"] == scope) & (rows["name"] == name)]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=sel["value"].astype(float)))
    return pd.concat(parts, ignore_index=True)


def mu_both_values(values: pd.DataFrame) -> pd.DataFrame:
    """µBOTH = (µMU + 10 · µMB) / 2 per run (µMU in %, µMB on 1-10), as the paper computes it."""
    wide = values.pivot_table(index=["backbone", "mixture", "seed"], columns="column", values="value", sort=False)
    both = ((wide["mu_mmlu"] + 10 * wide["mu_mtbench"]) / 2).dropna()
    return both.rename("value").reset_index().assign(column=MU_BOTH[0])


def column_scale(key: str) -> inference.Scale:
    """The range of a column: µBOTH in [5, 100], µMB and its turns in [1, 10], accuracies in [0, 100] %."""
    if key == MU_BOTH[0]:
        return inference.BOTH
    return inference.SCORE if key in {k for k, _ in CHAT_COLUMNS.values()} else inference.PERCENT


# ---------------------------------------------------------------- µALL: the math benchmarks (Table 5)

# column key -> (benchmark, scope, name, preferred metric, header, paper column): the testbed analogue,
# used when the real benchmark (ALTERNATIVES) was not run.
COMPONENTS = {
    "gsm8k": ("testbed_math", "subject", "one_step", "exact_match", "GSM8K-an.", "gsm8k_5shot"),
    "math": ("testbed_math", "subject", "two_step", "exact_match", "MATH-an.", "math_5shot"),
    "mmlu_math": ("testbed_mc", "group", "Mathematics", "acc", "M-math", "mmlu_math_0shot"),
}
# The paper's own benchmarks, preferred when metrics.csv has them (config/paper.yaml runs them).
ALTERNATIVES = {
    "gsm8k": (("gsm8k", "overall", "all", "exact_match", "GSM8K", "gsm8k_5shot"),),
    "math": (("math", "overall", "all", "exact_match", "MATH", "math_5shot"),),
    "mmlu_math": (("mmlu", "group", "Mathematics", "acc", "M-math", "mmlu_math_0shot"),),
}  # (not mmlu_dev: its 25 math questions are too few; the testbed's MC Mathematics group stands in)
MU_ALL = ("mu_all", "µALL", "mu_all")


def resolve_components(metrics: pd.DataFrame) -> dict[str, tuple[str, str, str, str, str, str]]:
    """Per column the first source that metrics.csv has: the paper's benchmark, else the testbed's."""
    present = set(metrics["benchmark"])
    out = {}
    for key, fallback in COMPONENTS.items():
        out[key] = next((alt for alt in ALTERNATIVES[key] if alt[0] in present), fallback)
    return out


def component_values(metrics: pd.DataFrame, runs: pd.DataFrame,
                     components: dict | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per-seed frame backbone, mixture, seed, gsm8k, math, mmlu_math, mu_all (in %), and the metrics used.

    One row per run of runs.csv; µALL is NaN for a run missing any of the three components.
    """
    parts, used = [], {}
    components = components or resolve_components(metrics)
    for key, (benchmark, scope, name, preferred, _, _) in components.items():
        bench = metrics[metrics["benchmark"] == benchmark]
        found = list(dict.fromkeys(bench["metric"]))
        if not found:
            continue
        used[key] = preferred if preferred in found else found[0]
        sel = bench[(bench["scope"] == scope) & (bench["name"] == name) & (bench["metric"] == used[key])]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=100 * sel["value"]))
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["backbone", "mixture", "seed", "column", "value"])
    wide = long.groupby(["backbone", "mixture", "seed", "column"], sort=False)["value"].first().unstack("column")
    wide = runs[["backbone", "mixture", "seed"]].drop_duplicates().merge(
        wide.reset_index(), on=["backbone", "mixture", "seed"], how="left")
    for key in COMPONENTS:
        if key not in wide.columns:
            wide[key] = math.nan
    wide[MU_ALL[0]] = wide[list(COMPONENTS)].mean(axis=1, skipna=False)
    return wide[["backbone", "mixture", "seed", *COMPONENTS, MU_ALL[0]]], used


# ---------------------------------------------------------------- sampling weights (Figures 2 and 4)


@dataclass(frozen=True)
class PaperPanel:
    """One digitized curve file of the paper: file name in results/paper/, its method label, its name."""

    file: str
    method: str
    name: str


FIG2_PANELS = (PaperPanel("fig2a_mos_cossim_ema_probs.csv", "MoS + COSSIM + EMA", "Fig. 2a"),
               PaperPanel("fig2b_mos_diff_ema_probs.csv", "MoS + DIFF + EMA", "Fig. 2b"))
FIG4_PANELS = (PaperPanel("fig4a_mospec_cossim_ema_probs.csv", "MoSpec + COSSIM + EMA", "Fig. 4 left"),
               PaperPanel("fig4b_mospec_diff_ema_probs.csv", "MoSpec + DIFF + EMA", "Fig. 4 right"))


def start_end(trajectory: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """backbone, mixture, seed, dataset, start, end: each run's weight at its first and last logged step."""
    traj = trajectory.merge(selected[["backbone", "mixture"]], on=["backbone", "mixture"])
    traj = traj.sort_values("step", kind="stable")
    keys = ["backbone", "mixture", "seed", "dataset"]
    grouped = traj.groupby(keys, sort=False)["weight"]
    return pd.concat([grouped.first().rename("start"), grouped.last().rename("end")], axis=1).reset_index()


def paper_start_end(curves: pd.DataFrame) -> pd.DataFrame:
    """dataset, start, end of one digitized paper curve."""
    curves = curves.sort_values("step")
    return pd.DataFrame({"dataset": [c for c in curves.columns if c != "step"]}).assign(
        start=lambda d: [float(curves[c].iloc[0]) for c in d["dataset"]],
        end=lambda d: [float(curves[c].iloc[-1]) for c in d["dataset"]])


def load_paper_curves(exp: Path, panels: tuple[PaperPanel, ...]) -> list[tuple[PaperPanel, pd.DataFrame]]:
    """The paper panels whose file exists in results/paper/."""
    out = []
    for panel in panels:
        path = common.paper_dir(exp) / panel.file
        if path.is_file():
            out.append((panel, common.read_csv(path, ["step"])))
    return out


def paper_weight_changes(exp: Path) -> dict[tuple[str, str], float]:
    """(label key of method, dataset) -> end − start of the paper's digitized weight curves (Figs. 2, 4)."""
    out = {}
    for panel, curves in load_paper_curves(exp, FIG2_PANELS + FIG4_PANELS):
        ends = paper_start_end(curves)
        out |= {(common.label_key(panel.method), d): e - s for d, s, e in ends.itertuples(index=False)}
    return out


# ---------------------------------------------------------------- claim metrics per run, the paper's tables


def final_losses(train_log: pd.DataFrame, fraction: float = FINAL_FRACTION) -> pd.DataFrame:
    """backbone, mixture, seed, value: each run's mean raw loss over its last `fraction` of logged steps."""
    def last_part(run: pd.DataFrame) -> float:
        run = run.sort_values("step")
        return float(run["loss"].tail(max(1, round(fraction * len(run)))).mean())

    keys = ["backbone", "mixture", "seed"]
    return pd.DataFrame([{**dict(zip(keys, key, strict=True)), "value": last_part(run)}
                         for key, run in train_log.groupby(keys, sort=False)], columns=[*keys, "value"])


def metric_values(metrics: pd.DataFrame, runs: pd.DataFrame, trajectory: pd.DataFrame | None = None,
                  train_log: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """metric -> per-run values: µMU (%), µMB (1-10), µBOTH, µALL (%), each dataset's weight change and the
    final training loss.

    Each frame has backbone, mixture, seed, value and theta0 (inference.attach_theta0); the weight changes
    (`weight_change:<dataset>`, from `trajectory`) only for mixtures whose weights moved; `train_loss`
    (final_losses) only when `train_log` is given.
    """
    out: dict[str, pd.DataFrame] = {}
    benchmark = pick_benchmark(metrics)
    if benchmark is not None:
        mu = per_seed(metrics, benchmark, {("overall", None): ("mu_mmlu", "µMU")})[0]
        out["mu_mmlu"] = mu
        chat = chat_benchmark(metrics)
        if chat is not None:
            mb = chat_values(metrics, chat)
            out["mu_mtbench"] = mb[mb["column"] == "mu_mtbench"]
            out["mu_both"] = mu_both_values(pd.concat([mu, out["mu_mtbench"]], ignore_index=True))
    mu_all = component_values(metrics, runs)[0]
    out["mu_all"] = mu_all.rename(columns={"mu_all": "value"})[[*inference.KEY, "value"]].dropna()
    if train_log is not None and len(train_log):
        out["train_loss"] = final_losses(train_log)
    if trajectory is not None and len(trajectory):
        changes = start_end(trajectory, common.paper_labels(runs))
        changes = changes.assign(value=changes["end"] - changes["start"])
        moved = changes.groupby(["backbone", "mixture"])["value"].transform(lambda v: (v.abs() > 1e-12).any())
        for dataset, part in changes[moved].groupby("dataset", sort=False):
            out[f"{WEIGHT}:{dataset}"] = part[[*inference.KEY, "value"]]
    return {k: inference.attach_theta0(v[[*inference.KEY, "value"]].reset_index(drop=True), runs)
            for k, v in out.items() if len(v)}


PAPER_TABLES = {"table2": ("table2_main.csv", ["backbone", "method"]),
                "table3": ("table3_priors_llama3_8b.csv", ["method"]),
                "table5": ("table5_mospec_llama3_8b.csv", ["model"])}


def paper_tables(exp: Path) -> dict[str, pd.DataFrame]:
    """The paper's Tables 2, 3 and 5 indexed by label keys (absent files give empty frames).

    Table 5's math-only row is keyed 'math-only', whatever its backbone's name.
    """
    def table(name: str, index: list[str]) -> pd.DataFrame:
        df = common.load_paper(exp, name, index)
        if df is None:
            return pd.DataFrame()
        keys = [df[c].map(common.label_key) for c in index]
        if name.startswith("table5"):  # the math-only row, whatever its backbone's name
            keys = [pd.Series(["math-only" if common.is_math_only(m) else k for m, k in
                               zip(df["model"], keys[0], strict=True)], index=df.index)]
        return df.set_index(keys if len(keys) > 1 else keys[0])

    return {key: table(name, index) for key, (name, index) in PAPER_TABLES.items()}
