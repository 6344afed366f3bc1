"""Replication scorecard: does each qualitative claim of the paper hold in our results?

    python analysis/scorecard.py results/<exp>

Reads results/<exp>/summary/{runs,metrics,trajectory}.csv and results/paper/table{2_main,3_priors_llama3_8b,
5_mospec_llama3_8b}.csv and fig{2a,2b,4a,4b}_*_probs.csv. For each headline claim of the paper (SPEC
"Headline claims", §6–7) it states, per backbone where that applies, our number, the paper's number, whether
ours goes the claimed way ("reproduced") and whether the difference is beyond the 95% confidence interval
over seeds (Welch interval of a difference of means; "n/a" with one seed). Accuracy claims use µBOTH =
(µMU + 10 · µMB) / 2, as the paper does, when a judged two-turn benchmark was run (mt_bench, else
testbed_chat), compared with the paper's µBOTH; otherwise µMU, the multiple-choice benchmark's overall
accuracy (testbed_mc when present), compared with the paper's µMU. Claims whose runs are absent say "n/a". Writes results/<exp>/tables/scorecard.md, scorecard.csv and scorecard.tex.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, fig2_weights, table2_main, table3_priors, table5_mospec
from mos.common.io import atomic_write_text

HEURISTICS = ("PROP. (τ=1)", "TEMP. (τ=10)", "UNI. (τ=∞)")
MOS = ("MoS + COSSIM", "MoS + COSSIM + EMA", "MoS + DIFF", "MoS + DIFF + EMA")
REWARDS = {"COSSIM": ("MoS + COSSIM", "MoS + COSSIM + EMA"), "DIFF": ("MoS + DIFF", "MoS + DIFF + EMA")}
MOSPEC = {"COSSIM": "MoSpec + COSSIM + EMA", "DIFF": "MoSpec + DIFF + EMA"}
# (claim, paper method, dataset, direction +1 up / −1 down) of the learned-weight claims (Figures 2 and 4)
WEIGHT_CLAIMS = (
    ("MoS + DIFF + EMA up-weights Mathematics (Fig. 2b)", "MoS + DIFF + EMA", "Mathematics", 1),
    ("MoS + DIFF + EMA down-weights NLP (Fig. 2b)", "MoS + DIFF + EMA", "NLP", -1),
    ("MoS raises General (Fig. 2)", "MoS + COSSIM + EMA", "General", 1),
    ("MoS raises General (Fig. 2)", "MoS + DIFF + EMA", "General", 1),
    ("MoS lowers Medicine (Fig. 2)", "MoS + COSSIM + EMA", "Medicine", -1),
    ("MoS lowers Medicine (Fig. 2)", "MoS + DIFF + EMA", "Medicine", -1),
    ("MoSpec raises Mathematics (Fig. 4)", "MoSpec + COSSIM + EMA", "Mathematics", 1),
    ("MoSpec raises Mathematics (Fig. 4)", "MoSpec + DIFF + EMA", "Mathematics", 1),
)
PAPER_CURVES = {"MoS + COSSIM + EMA": "fig2a_mos_cossim_ema_probs.csv", "MoS + DIFF + EMA": "fig2b_mos_diff_ema_probs.csv",
                "MoSpec + COSSIM + EMA": "fig4a_mospec_cossim_ema_probs.csv",
                "MoSpec + DIFF + EMA": "fig4b_mospec_diff_ema_probs.csv"}
NA = "n/a"
TABLE5_KEYS = {common.label_key(m) for _, m in table5_mospec.ROWS if m != table5_mospec.MATH_ONLY}


@dataclass
class Check:
    """One scorecard line."""

    claim: str
    scope: str
    ours: str
    paper: str
    reproduced: str  # yes / no / n/a
    beyond_ci: str   # yes / no / n/a: the 95% CI of our difference excludes 0


@dataclass
class Data:
    """Everything the claims need, loaded once."""

    runs: pd.DataFrame
    mu: dict[tuple[str, str], np.ndarray]        # (backbone, label key) -> per-seed µBOTH (else µMU)
    mu_all: dict[tuple[str, str], np.ndarray]    # (backbone, label key) -> per-seed Table 5 µALL in %
    changes: dict[tuple[str, str, str], np.ndarray]  # (backbone, label key, dataset) -> per-seed weight change
    paper_t2: pd.DataFrame                       # indexed by (label key of backbone, of method)
    paper_t3: pd.DataFrame                       # indexed by label key of method
    paper_t5: pd.DataFrame                       # indexed by label key of model
    paper_changes: dict[tuple[str, str], float]  # (label key of method, dataset) -> end − start
    benchmark: str | None
    metric: str = "µMU"                          # what `mu` holds: µBOTH or µMU
    paper_col: str = "mu_mmlu"                   # the paper's column of the same quantity
    chat: str | None = None                      # the judged benchmark behind µMB, if any
    notes: list[str] = field(default_factory=list)


# %% [markdown]
# ## Loading: per-seed values keyed by backbone and paper label

# %%


def by_label(values: pd.DataFrame, runs: pd.DataFrame, column: str,
             extra: Sequence[str] = ()) -> dict[tuple, np.ndarray]:
    """(backbone, label key of paper_method, *extra) -> the per-seed values of `column` (first mixture wins)."""
    labels = common.paper_labels(runs).assign(key=lambda d: d["paper_method"].map(common.label_key))
    labels = labels[labels["key"] != ""].drop_duplicates(["backbone", "key"])
    merged = values.merge(labels[["backbone", "mixture", "key"]], on=["backbone", "mixture"])
    out = {}
    for key, g in merged.groupby(["backbone", "key", *extra], sort=False):
        out[key] = g[column].dropna().to_numpy(dtype=float)
    return out


def paper_table(exp: Path, name: str, index: Sequence[str]) -> pd.DataFrame:
    """A results/paper/ table indexed by the label keys of `index` columns (empty when the file is absent)."""
    path = common.paper_dir(exp) / name
    if not path.is_file():
        return pd.DataFrame()
    df = common.read_csv(path, index)
    keys = [df[c].map(common.label_key) for c in index]
    return df.set_index(keys if len(keys) > 1 else keys[0])


def paper_weight_changes(exp: Path) -> dict[tuple[str, str], float]:
    """(label key of method, dataset) -> end − start of the paper's digitized curves."""
    out = {}
    for method, file in PAPER_CURVES.items():
        path = common.paper_dir(exp) / file
        if path.is_file():
            ends = fig2_weights.paper_start_end(common.read_csv(path, ["step"]))
            out |= {(common.label_key(method), d): e - s for d, s, e in ends.itertuples(index=False)}
    return out


def load(exp: Path) -> Data:
    """Read the summary CSVs and the paper's numbers."""
    runs = common.load_runs(exp)
    metrics = common.load_summary(exp, "metrics", ["backbone", "mixture", "seed", "benchmark", "scope", "name",
                                                    "metric", "value"])
    trajectory_path = Path(exp) / "summary" / "trajectory.csv"
    trajectory = (common.read_csv(trajectory_path, fig2_weights.TRAJECTORY_COLUMNS) if trajectory_path.is_file()
                  else pd.DataFrame(columns=fig2_weights.TRAJECTORY_COLUMNS))
    benchmark = table3_priors.pick_benchmark(metrics)
    spec = {("overall", None): ("mu_mmlu", "µMU")}
    mu_values = table3_priors.per_seed(metrics, benchmark, spec)[0]
    chat = table2_main.chat_benchmark(metrics) if benchmark else None
    if chat is not None:  # the paper's headline number: µBOTH = (µMU + 10 µMB) / 2
        both = pd.concat([mu_values, table2_main.chat_values(metrics, chat)], ignore_index=True)
        mu_values = table2_main.mu_both_values(both)
    table5_values, used = table5_mospec.component_values(metrics, runs)
    changes = fig2_weights.start_end(trajectory, common.paper_labels(runs)).assign(
        value=lambda d: d["end"] - d["start"])
    data = Data(runs=runs, mu=by_label(mu_values, runs, "value"),
                mu_all=by_label(table5_values, runs, "mu_all"),
                changes=by_label(changes, runs, "value", ["dataset"]),
                paper_t2=paper_table(exp, "table2_main.csv", ["backbone", "method"]),
                paper_t3=paper_table(exp, "table3_priors_llama3_8b.csv", ["method"]),
                paper_t5=paper_table(exp, "table5_mospec_llama3_8b.csv", ["model"]),
                paper_changes=paper_weight_changes(exp), benchmark=benchmark, chat=chat,
                metric="µBOTH" if chat else "µMU", paper_col="mu_both" if chat else "mu_mmlu")
    absent = sorted({table5_mospec.COMPONENTS[k][0] for k in table5_mospec.COMPONENTS if k not in used})
    if absent:
        data.notes.append(f"{', '.join(absent)} not evaluated: the µALL claims (Table 5) are n/a.")
    return data


# %% [markdown]
# ## Helpers for one comparison

# %%


def backbones(data: Data) -> list[tuple[str, str]]:
    """(backbone, paper backbone) in runs.csv order."""
    labels = common.paper_labels(data.runs).drop_duplicates("backbone")
    return list(zip(labels["backbone"], labels["paper_backbone"], strict=True))


def mean_of(values: np.ndarray | None) -> float:
    return float(np.mean(values)) if values is not None and len(values) else math.nan


def best(data: Data, backbone: str, labels: Sequence[str],
         source: str = "mu") -> tuple[str | None, np.ndarray | None]:
    """The label with the highest mean among those run on `backbone`, and its per-seed values."""
    table = getattr(data, source)
    found = [(mean_of(table.get((backbone, common.label_key(lab)))), lab) for lab in labels]
    found = [(m, lab) for m, lab in found if not math.isnan(m)]
    if not found:
        return None, None
    lab = max(found, key=lambda x: x[0])[1]
    return lab, table[(backbone, common.label_key(lab))]


def paper_value(table: pd.DataFrame, key: object, column: str) -> float:
    """One number of a paper table by label key, NaN when absent."""
    if table.empty or column not in table.columns or key not in table.index:
        return math.nan
    value = table.loc[key, column]
    return float(value.iloc[0] if isinstance(value, pd.Series) else value)


def paper_best(data: Data, paper_backbone: str, labels: Sequence[str], column: str) -> tuple[str | None, float]:
    """The paper's best label among `labels` on a backbone by `column` of Table 2, and its value."""
    b = common.label_key(paper_backbone)
    found = [(paper_value(data.paper_t2, (b, common.label_key(lab)), column), lab) for lab in labels]
    found = [(v, lab) for v, lab in found if not math.isnan(v)]
    return (max(found)[1], max(found)[0]) if found else (None, math.nan)


def compare(claim: str, scope: str, a: np.ndarray | None, b: np.ndarray | None, ours_text: str,
            paper_text: str, paper_diff: float = math.nan, direction: int = 1) -> Check:
    """A Check for 'a beats b' (direction +1) or 'a is below b' (−1), with our difference and its CI."""
    if a is None or b is None or not len(a) or not len(b):
        return Check(claim, scope, "not run", paper_text, NA, NA)
    diff, ci = table3_priors.mean_diff_ci(a, b)
    ours = f"{ours_text}: Δ = {table3_priors.fmt_signed(diff, ci)}"
    if not math.isnan(paper_diff):
        paper_text += f" (Δ = {table3_priors.fmt_signed(paper_diff, math.nan)})"
    beyond = NA if math.isnan(ci) else ("yes" if table3_priors.significant(diff, ci) else "no")
    return Check(claim, scope, ours, paper_text, "yes" if direction * diff > 0 else "no", beyond)


def summary_check(claim: str, checks: Sequence[Check], paper_text: str) -> Check:
    """'k of n' over the per-backbone checks of one claim."""
    done = [c for c in checks if c.reproduced != NA]
    if not done:
        return Check(claim, "all", "not run", paper_text, NA, NA)
    yes = sum(c.reproduced == "yes" for c in done)
    sig = sum(c.reproduced == "yes" and c.beyond_ci == "yes" for c in done)
    tested = any(c.beyond_ci != NA for c in done)
    ours = f"{yes} of {len(done)} hold" + (f" ({sig} beyond the 95% CI)" if tested else "")
    return Check(claim, "all", ours, paper_text, "yes" if yes == len(done) else ("partly" if yes else "no"),
                 ("yes" if sig == len(done) else "no") if tested else NA)


# %% [markdown]
# ## The claims

# %%


def claim_mos_beats_heuristics(data: Data) -> list[Check]:
    """Best MoS variant vs best heuristic (PROP / TEMP / UNI) per backbone, and bigger gains on bigger models."""
    claim = f"Best MoS variant beats the best heuristic ({data.metric})"
    checks, gains = [], []
    for backbone, paper_backbone in backbones(data):
        mos, a = best(data, backbone, MOS)
        heur, b = best(data, backbone, HEURISTICS)
        p_mos, p_mos_v = paper_best(data, paper_backbone, MOS, data.paper_col)
        p_heur, p_heur_v = paper_best(data, paper_backbone, HEURISTICS, data.paper_col)
        paper = (f"{p_mos} vs {p_heur} {data.metric} {p_mos_v:.2f} vs {p_heur_v:.2f}"
                 if p_mos and p_heur else NA)
        check = compare(claim, backbone, a, b, f"{mos} vs {heur}", paper)
        checks.append(check)
        if a is not None and b is not None:
            gains.append((backbone, mean_of(a) - mean_of(b), p_mos_v - p_heur_v))
    out = [*checks, summary_check(claim, checks, "3 of 3 in µBOTH (+0.96, +1.15, +2.45); 2 of 3 in µMU")]
    if len(gains) >= 2:
        gains.sort(key=lambda g: size_rank(data, g[0]))
        ours = ", ".join(f"{b} {table3_priors.fmt_signed(g, math.nan)}" for b, g, _ in gains)
        paper = ", ".join(table3_priors.fmt_signed(p, math.nan) for _, _, p in gains)
        rising = all(g2 > g1 for (_, g1, _), (_, g2, _) in zip(gains, gains[1:], strict=False))
        out.append(Check("Larger backbones gain more from MoS (smallest paper model first)", "all", ours,
                         f"{data.metric} Δ {paper}", "yes" if rising else "no", NA))
    return out


def size_rank(data: Data, backbone: str) -> int:
    """Position of the backbone's paper model in the paper's Table 2 (Qwen, Gemma, LLaMA: by size)."""
    order = list(dict.fromkeys(data.paper_t2.index.get_level_values(0))) if not data.paper_t2.empty else []
    paper_backbone = common.label_key(dict(backbones(data)).get(backbone, ""))
    return order.index(paper_backbone) if paper_backbone in order else len(order)


def claim_no_universal_tau(data: Data) -> list[Check]:
    """The best heuristic temperature differs across backbones."""
    claim = "No universally optimal τ (best heuristic differs across backbones)"
    ours, paper, winners, sig = [], [], [], []
    for backbone, paper_backbone in backbones(data):
        means = ((mean_of(data.mu.get((backbone, common.label_key(h)))), h) for h in HEURISTICS)
        ranked = sorted(((m, h) for m, h in means if not math.isnan(m)), reverse=True)  # NaN breaks sorting
        if len(ranked) < 2:
            continue
        winners.append(ranked[0][1])
        first, second = (data.mu[(backbone, common.label_key(h))] for _, h in ranked[:2])
        diff, ci = table3_priors.mean_diff_ci(first, second)
        sig.append(table3_priors.significant(diff, ci))
        ours.append(f"{backbone}: {ranked[0][1]} (+{diff:.2f} over {ranked[1][1]})")
        p_heur = paper_best(data, paper_backbone, HEURISTICS, data.paper_col)[0]
        paper.append(f"{paper_backbone}: {p_heur} ({data.metric})")
    if len(winners) < 2:
        return [Check(claim, "all", "fewer than two backbones with the heuristics", "; ".join(paper) or NA, NA, NA)]
    return [Check(claim, "all", "; ".join(ours), "; ".join(paper), "yes" if len(set(winners)) > 1 else "no",
                  "yes" if all(sig) else "no")]


def claim_ema_helps(data: Data) -> list[Check]:
    """MoS + X + EMA beats MoS + X, per backbone and reward."""
    claim = f"EMA helps (MoS + X + EMA vs MoS + X, {data.metric})"
    checks = []
    for backbone, paper_backbone in backbones(data):
        for reward, (plain, ema) in REWARDS.items():
            p = [paper_value(data.paper_t2, (common.label_key(paper_backbone), common.label_key(m)), data.paper_col)
                 for m in (ema, plain)]
            checks.append(compare(claim, f"{backbone} {reward}", data.mu.get((backbone, common.label_key(ema))),
                                  data.mu.get((backbone, common.label_key(plain))), f"{ema} vs {plain}",
                                  f"{p[0]:.2f} vs {p[1]:.2f}" if not any(map(math.isnan, p)) else NA, p[0] - p[1]))
    return [*checks, summary_check(claim, checks, "6 of 6 (µMU and µBOTH)")]


def claim_reward_depends_on_model(data: Data) -> list[Check]:
    """The better reward (best COSSIM variant vs best DIFF variant) differs across backbones."""
    claim = "Different rewards suit different backbones (best COSSIM vs best DIFF variant)"
    ours, paper, winners, sig = [], [], [], []
    for backbone, paper_backbone in backbones(data):
        cos, a = best(data, backbone, REWARDS["COSSIM"])
        dif, b = best(data, backbone, REWARDS["DIFF"])
        if a is None or b is None:
            continue
        diff, ci = table3_priors.mean_diff_ci(a, b)
        winners.append("COSSIM" if diff > 0 else "DIFF")
        sig.append(table3_priors.significant(diff, ci))
        ours.append(f"{backbone}: {winners[-1]} (COSSIM − DIFF {table3_priors.fmt_signed(diff, ci)})")
        p = {col: (paper_best(data, paper_backbone, REWARDS["COSSIM"], col)[1]
                   - paper_best(data, paper_backbone, REWARDS["DIFF"], col)[1]) for col in ("mu_mmlu", "mu_both")}
        if not math.isnan(p["mu_both"]):
            paper.append(f"{paper_backbone}: µBOTH {'COSSIM' if p['mu_both'] > 0 else 'DIFF'}, "
                         f"µMU {'COSSIM' if p['mu_mmlu'] > 0 else 'DIFF'}")
    if len(winners) < 2:
        return [Check(claim, "all", "fewer than two backbones with both rewards", "; ".join(paper) or NA, NA, NA)]
    return [Check(claim, "all", "; ".join(ours), "; ".join(paper), "yes" if len(set(winners)) > 1 else "no",
                  "yes" if all(sig) else "no")]


def claim_priors_beat_temp(data: Data) -> list[Check]:
    """Every MoS prior (Table 3) beats TEMP. (τ = 10) on the prior-study backbone(s)."""
    claim = f"Every MoS prior beats TEMP. (τ = 10) (Table 3, {data.metric})"
    checks = []
    ref_key = common.label_key(table3_priors.REFERENCE)
    p_ref = paper_value(data.paper_t3, ref_key, data.paper_col)
    for backbone in table3_priors.prior_backbones(data.runs):
        for method in table3_priors.METHODS[1:]:
            mine = next((data.mu[(backbone, k)] for k in table3_priors.row_keys(method) if (backbone, k) in data.mu),
                        None)
            p = paper_value(data.paper_t3, common.label_key(method), data.paper_col)
            checks.append(compare(claim, f"{backbone} {method.replace('MoS + ', '')}", mine,
                                  data.mu.get((backbone, ref_key)), "vs TEMP.",
                                  f"{p:.2f} vs {p_ref:.2f}" if not math.isnan(p) else NA, p - p_ref))
    return [*checks, summary_check(claim, checks, "6 of 6")]


def claim_mospec(data: Data) -> list[Check]:
    """MoSpec beats the math-only model and MoS with the same reward in µALL; the math-only model is worst."""
    checks = []
    p = {k: paper_value(data.paper_t5, k, "mu_all") for k in data.paper_t5.index} if not data.paper_t5.empty else {}
    p_math_only = next((v for k, v in p.items() if table5_mospec.is_math_only(k)), math.nan)
    for backbone in table5_mospec.specialist_backbones(data.runs):
        math_only = next((v for (b, k), v in data.mu_all.items() if b == backbone and table5_mospec.is_math_only(k)),
                         None)
        for reward, spec in MOSPEC.items():
            mine = data.mu_all.get((backbone, common.label_key(spec)))
            ps = p.get(common.label_key(spec), math.nan)
            checks.append(compare("MoSpec beats the math-only model (µALL)", f"{backbone} {reward}", mine, math_only,
                                  f"{spec} vs math-only", f"{ps:.2f} vs {p_math_only:.2f}", ps - p_math_only))
            generalist = f"MoS + {reward} + EMA"
            pg = p.get(common.label_key(generalist), math.nan)
            checks.append(compare("MoSpec beats MoS with the same reward (µALL)", f"{backbone} {reward}", mine,
                                  data.mu_all.get((backbone, common.label_key(generalist))),
                                  f"{spec} vs {generalist}", f"{ps:.2f} vs {pg:.2f}", ps - pg))
        others = [mean_of(v) for (b, k), v in data.mu_all.items() if b == backbone and k in TABLE5_KEYS and len(v)]
        if math_only is not None and len(math_only) and others:
            checks.append(Check("The math-only model has the lowest µALL", backbone,
                                f"math-only {mean_of(math_only):.2f}, others {min(others):.2f}–{max(others):.2f}",
                                f"{p_math_only:.2f}, others 29.17–31.91",
                                "yes" if mean_of(math_only) < min(others) else "no", NA))
    if not checks:
        return [Check("MoSpec beats the math-only model (µALL)", "all", "not run", "+3.59, +4.87", NA, NA)]
    return checks


def claim_weights(data: Data) -> list[Check]:
    """Direction of the learned-weight change (end − start), per backbone, against the paper's figures."""
    checks = []
    for claim, method, dataset, direction in WEIGHT_CLAIMS:
        key = common.label_key(method)
        pc = data.paper_changes.get((key, dataset), math.nan)
        paper = NA if math.isnan(pc) else table3_priors.fmt_signed(pc, math.nan, 3)
        for backbone, _ in backbones(data):
            values = data.changes.get((backbone, key, dataset))
            if values is None or not len(values):
                continue
            m, ci, _ = common.mean_ci(values)
            beyond = NA if math.isnan(ci) else ("yes" if table3_priors.significant(m, ci) else "no")
            checks.append(Check(claim, f"{backbone} {method}",
                                f"{dataset} {table3_priors.fmt_signed(m, ci, 3)}", f"{dataset} {paper}",
                                "yes" if direction * m > 0 else "no", beyond))
    return checks


CLAIMS: tuple[Callable[[Data], list[Check]], ...] = (
    claim_no_universal_tau, claim_mos_beats_heuristics, claim_ema_helps, claim_reward_depends_on_model,
    claim_priors_beat_temp, claim_mospec, claim_weights)


# %% [markdown]
# ## Write the scorecard

# %%


def build(data: Data) -> pd.DataFrame:
    """All checks as a frame: claim, scope, ours, paper, reproduced, beyond_ci.

    Every claim ends with one scope='all' verdict row; a claim checked only per backbone gets a 'k of n' one.
    """
    checks = []
    for fn in CLAIMS:
        found = fn(data)
        for claim in dict.fromkeys(c.claim for c in found):
            rows = [c for c in found if c.claim == claim]
            if not any(c.scope == "all" for c in rows):
                rows.append(summary_check(claim, rows, "; ".join(dict.fromkeys(c.paper for c in rows))))
            checks += rows
    return pd.DataFrame([asdict(c) for c in checks],
                        columns=["claim", "scope", "ours", "paper", "reproduced", "beyond_ci"])


def render(table: pd.DataFrame, data: Data) -> str:
    """The Markdown scorecard: a tally of the verdicts, the verdict per claim, then every check."""
    verdicts = table[table["scope"] == "all"]
    counts = verdicts["reproduced"].value_counts()
    tally = (f"{len(verdicts)} claims: {counts.get('yes', 0)} reproduced, {counts.get('partly', 0)} partly, "
             f"{counts.get('no', 0)} not reproduced, {counts.get(NA, 0)} not applicable (runs missing).")
    names = {"claim": "Claim", "scope": "Scope", "ours": "Ours", "paper": "Paper",
             "reproduced": "Reproduced", "beyond_ci": "Beyond 95% CI"}
    display = table[table["scope"] != "all"].rename(columns=names)
    what = (f"µBOTH = (µMU + 10 · µMB) / 2 with µMU = {data.benchmark} overall accuracy in % and µMB = "
            f"{data.chat} score (1-10)" if data.chat else
            f"µMU = {data.benchmark or 'no multiple-choice benchmark'} overall accuracy in %")
    notes = [f"Accuracy: {what}; µALL as in Table 5. Δ: difference of seed means ± half-width of its 95% Welch interval; 'beyond 95% CI' means "
             "that interval excludes 0 (n/a with a single seed). Weight changes: end − start of each run's "
             "logged sampling probability. The paper's numbers are for billion-parameter models with MT-Bench "
             "in µBOTH: compare directions, not levels.",
             "Not scored: the 2.2× faster convergence (see tables/fig3_final_loss) and IFD compatibility (Table 4).",
             *data.notes]
    return ("# Replication scorecard\n\n" + tally + "\n\n## Verdict per claim\n\n"
            + common.markdown_table(verdicts.drop(columns="scope").rename(columns=names))
            + "\n## Every check\n\n" + common.markdown_table(display) + "".join(f"\n{n}\n" for n in notes))


def latex(table: pd.DataFrame) -> str:
    """The scorecard as a LaTeX table: every check, the verdict rows (scope 'all') in bold."""
    names = {"claim": "Claim", "scope": "Scope", "ours": "Ours", "paper": "Paper",
             "reproduced": "Reproduced", "beyond_ci": "Beyond 95% CI"}
    display = table.rename(columns=names).astype(str)
    verdict = table["scope"] == "all"
    display.loc[verdict, "Scope"] = "**all**"
    display.loc[verdict, "Reproduced"] = [f"**{v}**" for v in display.loc[verdict, "Reproduced"]]
    caption = ("Replication scorecard: each claim of the paper, checked per backbone, with the verdict in bold "
               "(scope all). Beyond 95% CI: the Welch interval of our difference excludes 0.")
    text = common.latex_table(display, caption, "tab:scorecard")
    return text.replace(r"\begin{tabular}{llrrrr}", r"\begin{tabular}{p{3.2cm}lp{4.6cm}p{4.6cm}ll}")


def write_all(exp: Path) -> list[Path]:
    """Write tables/scorecard.md, scorecard.csv and scorecard.tex for one experiment folder."""
    data = load(exp)
    table = build(data)
    md = Path(exp) / "tables" / "scorecard.md"
    atomic_write_text(md, render(table, data))
    atomic_write_text(md.with_suffix(".tex"), latex(table))
    return [md, common.write_frame_csv(table, md.with_suffix(".csv")), md.with_suffix(".tex")]


# %%
if __name__ == "__main__":
    for path in write_all(common.experiment_dir()):
        print(path)
