"""Test the pre-declared claims of results/<exp>/summary/claims.json: one row per hypothesis, Holm per family.

Not run by itself: analysis/scorecard.py and analysis/power.py use it.

    from analysis import claims
    evaluated = claims.evaluate(claims.load(Path("results/default")))

claims.json is the config's `claims:` section as `python -m mos aggregate --claims` wrote it (resolved
by `python -m mos config claims CONFIG`): the arms each claim compares on each backbone, the metric
and the paper's direction. An experiment aggregated before claims existed has no claims.json; write
it from its config with

    python -m mos aggregate --out results/<exp>/summary --claims "$(python -m mos config claims CONFIG)"

Nothing is guessed: without claims.json the scorecard says so and scores nothing.

Each hypothesis gets the model-based difference of analysis/inference.py (pooled σ, paired by seed
where the claims say so), a one-sided p in the paper's direction and one in the other, Holm's
adjustment within its family, a verdict (held / contradicted / inconclusive with the MDE), the
reviewer's seed-level paired t beside it, the paper's own difference (from results/paper/*.csv,
through the runs' paper labels), and its chance pass rate: how often the same procedure, Holm
included, calls it "held" in simulated experiments without any mixture effect.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis import common, inference, values

CLAIMS_FILE = common.CLAIMS_FILE
# metric -> (header, scale, the paper's column): analysis/values.py's metrics
METRICS = {k: (*values.METRICS[k], k) for k in ("mu_both", "mu_mmlu", "mu_mtbench", "mu_all")}
WEIGHT = values.WEIGHT
PAPER_LLAMA = "LLaMA-3-8B"  # the backbone of the paper's Tables 3 and 5 and of its figures


# ---------------------------------------------------------------- loading


@dataclass
class Data:
    """What the claims need: per-run values of each metric, the claims, the paper's tables."""

    exp: Path
    runs: pd.DataFrame
    spec: dict | None                              # claims.json, None when absent
    values: dict[str, pd.DataFrame]                # metric -> backbone, mixture, seed, value (+ theta0)
    paper: dict[str, pd.DataFrame]                 # table2 / table3 / table5, indexed by label keys
    paper_changes: dict[tuple[str, str], float]    # (label key of method, dataset) -> end − start
    notes: list[str] = field(default_factory=list)
    fits: dict[str, inference.Fit] = field(default_factory=dict)

    def fit(self, metric: str) -> inference.Fit | None:
        """The model of one metric over every cell of the experiment (None when it was not measured)."""
        if metric not in self.fits:
            values = self.values.get(metric)
            if values is None or values.empty:
                return None
            scale = METRICS[metric][1] if metric in METRICS else inference.CHANGE
            pair = bool(self.spec.get("pair_by_seed", True)) if self.spec else True
            self.fits[metric] = inference.Fit(values, scale, pair, what=f"{self.exp.name} {metric}")
        return self.fits[metric]

    def __post_init__(self) -> None:
        labels = common.paper_labels(self.runs)
        self._labels = dict(zip(zip(labels["backbone"], labels["mixture"], strict=True), labels["paper_method"],
                                strict=True))
        self._paper_backbones = dict(zip(labels["backbone"], labels["paper_backbone"], strict=False))

    def label(self, backbone: str, mixture: str) -> str:
        """The run's paper_method label (runs.csv)."""
        return self._labels.get((backbone, mixture), "")

    def paper_backbone(self, backbone: str) -> str:
        """The run's paper_backbone label (runs.csv)."""
        return self._paper_backbones.get(backbone, "")


def load(exp: Path) -> Data:
    """Read the summaries, claims.json and the paper's numbers of one experiment (analysis/values.py)."""
    inputs = common.load_inputs(exp)
    runs, trajectory = inputs.runs, common.load_trajectory(inputs.exp, required=False)
    data = Data(inputs.exp, runs, inputs.claims, values.metric_values(inputs.metrics, runs, trajectory),
                values.paper_tables(inputs.exp), values.paper_weight_changes(inputs.exp))
    if inference.theta0_of(runs) is None:
        data.notes.append("Every run of a backbone starts from the same pretrained θ0 (runs.csv has no theta0 "
                          "column): the intervals are conditional on that one θ0 and leave out how results vary "
                          "between pretrainings (REVIEW H2).")
    return data


# ---------------------------------------------------------------- the paper's numbers


def paper_value(data: Data, backbone: str, mixture: str, metric: str) -> float:
    """The paper's number for the run's paper labels: Table 2, else Table 3 (LLaMA), Table 5 for µALL."""
    column = METRICS[metric][2]
    method, paper_backbone = data.label(backbone, mixture), data.paper_backbone(backbone)
    llama = common.label_key(paper_backbone) == common.label_key(PAPER_LLAMA)
    lookups = [("table5", "math-only" if common.is_math_only(method) else common.label_key(method))] \
        if metric == "mu_all" else [("table2", (common.label_key(paper_backbone), common.label_key(method))),
                                    ("table3", common.label_key(method))]
    for name, key in lookups:
        table = data.paper[name]
        if table.empty or column not in table.columns or key not in table.index or (name != "table2" and not llama):
            continue
        value = table.loc[key, column]
        return float(value.iloc[0] if isinstance(value, pd.Series) else value)
    return math.nan


# ---------------------------------------------------------------- hypotheses


@dataclass
class Hypothesis:
    """One tested statement: a claim on one backbone (or across backbones)."""

    claim: dict
    scope: str
    arms: str
    metric: str
    direction: int                                  # +1: the paper says greater, −1: less
    comparison: inference.Comparison | None = None  # model-based (least favourable one for a list of b)
    reviewer: inference.Comparison | None = None    # seed-level paired t
    p: float = math.nan                             # one-sided p in the paper's direction
    p_opp: float = math.nan                         # one-sided p in the other direction
    ours: str = ""
    paper: str = ""
    paper_effect: float = math.nan
    mde: float = math.nan
    null: Callable[[dict[str, np.ndarray], np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
    p_holm: float = math.nan
    p_opp_holm: float = math.nan
    level: float = math.nan                         # Holm's one-sided level for this hypothesis
    verdict: str = "n/a"
    chance: float = math.nan                        # P(held) under no mixture effect, Holm included
    null_held: np.ndarray | None = None             # held or not in each simulated null experiment

    @property
    def family(self) -> str:
        return self.claim["family"]


def fmt_interval(c: inference.Comparison | None, digits: int = 2) -> str:
    """'+1.20 [−0.50, +2.90]', or 'n/a'."""
    if c is None or pd.isna(c.effect):
        return "n/a"
    if pd.isna(c.se):
        return signed(c.effect, digits)
    return f"{signed(c.effect, digits)} [{signed(c.lo, digits)}, {signed(c.hi, digits)}]"


def signed(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:+.{digits}f}".replace("-", "−")


def _t_p(t: np.ndarray, df: np.ndarray | float, direction: int) -> np.ndarray:
    return stats.t.sf(direction * t, df)


def contrast_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind contrast: a vs b on each backbone; a list of b is an intersection-union test (a beats every b)."""
    out, metric = [], claim["metric"]
    direction = 1 if claim["direction"] == "greater" else -1
    fit = data.fit(metric)
    header = METRICS[metric][0]
    for backbone in claim["backbones"]:
        a, refs = claim["a"][backbone], claim["b"][backbone]
        h = Hypothesis(claim, backbone, f"{a} vs {' / '.join(refs)}", metric, direction)
        out.append(h)
        if fit is None or not all(fit.has(backbone, m) for m in [a, *refs]):
            h.ours = f"not run ({header} of {backbone} × {', '.join([a, *refs])} missing)"
            continue
        comps = [fit.compare(backbone, a, r) for r in refs]
        ps = [c.p(direction) for c in comps]
        worst = int(np.nanargmax(ps))
        h.comparison, h.p = comps[worst], max(ps)
        h.p_opp = min(1.0, len(refs) * min(c.p(-direction) for c in comps))
        h.mde = h.comparison.mde
        series = data.values[metric].query("backbone == @backbone").set_index(["mixture", "seed"])["value"]
        h.reviewer = inference.paired_t(series.loc[a], series.loc[refs[worst]], fit.scale)
        h.ours = f"{header} Δ = {fmt_interval(h.comparison)}" + (f" vs {refs[worst]}" if len(refs) > 1 else "")
        paper = [paper_value(data, backbone, a, metric) - paper_value(data, backbone, r, metric) for r in refs]
        if not all(map(math.isnan, paper)):
            h.paper_effect = min(paper, key=lambda d: direction * d if not math.isnan(d) else math.inf)
            h.paper = f"Δ = {signed(h.paper_effect)}" + (f" ({data.paper_backbone(backbone)})" if metric != "mu_all"
                                                         else f" ({PAPER_LLAMA})")
        vectors = np.stack([fit.contrast_vector({(backbone, a): 1, (backbone, r): -1}) for r in refs])
        k = len(refs)

        def null(Ys: dict[str, np.ndarray], rng: np.random.Generator, fit=fit, vectors=vectors,
                 direction=direction, k=k, metric=metric) -> tuple[np.ndarray, np.ndarray]:
            t, df = fit.null_t(vectors, Ys[metric])
            return (_t_p(t, df[:, None], direction).max(axis=1),
                    np.minimum(1.0, k * _t_p(t, df[:, None], -direction).min(axis=1)))

        h.null = null
    return out


def gain_trend_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind gain_trend: (a − b) on the last backbone minus (a − b) on the first."""
    metric, (first, last) = claim["metric"], (claim["backbones"][0], claim["backbones"][-1])
    direction = 1 if claim["direction"] == "greater" else -1
    h = Hypothesis(claim, f"{last} − {first}", f"({claim['a'][last]} − {claim['b'][last]}) − "
                   f"({claim['a'][first]} − {claim['b'][first]})", metric, direction)
    fit, header = data.fit(metric), METRICS[metric][0]
    cells = {(last, claim["a"][last]): 1, (last, claim["b"][last]): -1,
             (first, claim["a"][first]): -1, (first, claim["b"][first]): 1}
    if fit is None or not all(fit.has(*c) for c in cells):
        h.ours = f"not run ({header} missing)"
        return [h]
    h.comparison = fit.contrast(cells)
    h.p, h.p_opp, h.mde = h.comparison.p(direction), h.comparison.p(-direction), h.comparison.mde
    h.ours = f"{header} gain difference = {fmt_interval(h.comparison)}"
    paper = [sum(w * paper_value(data, b, m, metric) for (b, m), w in cells.items() if b == bb) for bb in (last, first)]
    h.paper_effect = paper[0] - paper[1]
    if not math.isnan(h.paper_effect):
        h.paper = f"{signed(paper[0])} − {signed(paper[1])} = {signed(h.paper_effect)}"
    vector = fit.contrast_vector(cells)[None, :]

    def null(Ys: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t, df = fit.null_t(vector, Ys[metric])
        return _t_p(t[:, 0], df, direction), _t_p(t[:, 0], df, -direction)

    h.null = null
    return [h]


def weight_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind weight_change: the mean end − start of one dataset's weight, per backbone, against 0."""
    metric, mixture, dataset = f"{WEIGHT}:{claim['dataset']}", claim["mixture"], claim["dataset"]
    direction = 1 if claim["direction"] == "greater" else -1
    fit, out = data.fit(metric), []
    for backbone in claim["backbones"]:
        h = Hypothesis(claim, backbone, f"{mixture}: {dataset}", metric, direction)
        out.append(h)
        if fit is None or not fit.has(backbone, mixture):
            h.ours = "not run (no moving weights logged)"
            continue
        h.comparison = fit.versus(backbone, mixture, 0.0)
        h.p, h.p_opp, h.mde = h.comparison.p(direction), h.comparison.p(-direction), h.comparison.mde
        est = fit.cell(backbone, mixture)
        h.ours = f"{dataset} {signed(est.mean, 3)} [{signed(est.lo, 3)}, {signed(est.hi, 3)}]"
        h.paper_effect = data.paper_changes.get((common.label_key(data.label(backbone, mixture)), dataset), math.nan)
        if not math.isnan(h.paper_effect):
            h.paper = f"{dataset} {signed(h.paper_effect, 3)} ({PAPER_LLAMA})"

        def null(Ys: dict[str, np.ndarray], rng: np.random.Generator, fit=fit, cell=(backbone, mixture),
                 direction=direction, metric=metric) -> tuple[np.ndarray, np.ndarray]:
            t, df = fit.null_versus_t([cell], Ys[metric])
            return _t_p(t[:, 0], df, direction), _t_p(t[:, 0], df, -direction)

        h.null = null
    return out


def best_differs_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind best_differs: the max-statistic permutation test of inference.best_differs_test."""
    metric, arms, backbones = claim["metric"], claim["arms"], claim["backbones"]
    h = Hypothesis(claim, "all", " / ".join(arms), metric, 1)
    fit, header = data.fit(metric), METRICS[metric][0]
    if fit is None or not all(fit.has(b, a) for b in backbones for a in arms):
        h.ours = f"not run ({header} missing)"
        return [h]
    spec = data.spec or {}
    permutations, seed = int(spec.get("permutations", 2000)), int(spec.get("seed", 0))
    result = inference.best_differs_test(fit, backbones, arms, permutations, seed)
    h.p, h.p_opp = result.p_held, result.p_contradicted
    h.mde = fit.compare(backbones[0], arms[0], arms[1]).mde
    h.ours = "best: " + "; ".join(f"{b} {result.best[b]}" for b in backbones) + \
        f" (permutation p per arm: {', '.join(f'{a} {p:.3f}' for a, p in result.p_each.items())})"
    paper_best = {}
    for b in backbones:
        values = {a: paper_value(data, b, a, metric) for a in arms}
        if not any(map(math.isnan, values.values())):
            paper_best[b] = max(values, key=values.get)
    if paper_best:
        h.paper = "best: " + "; ".join(f"{data.paper_backbone(b)} {a}" for b, a in paper_best.items())
    design = inference.BestDiffersDesign(fit, backbones, arms)

    def null(Ys: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return design.null_pvalues(Ys[metric][:, design.rows])

    h.null = null
    return [h]


KINDS = {"contrast": contrast_hypotheses, "gain_trend": gain_trend_hypotheses,
         "weight_change": weight_hypotheses, "best_differs": best_differs_hypotheses}


# ---------------------------------------------------------------- Holm, verdicts and chance pass rates


def digits(metric: str) -> int:
    """Decimals of a metric's differences: 3 for sampling weights, 2 for scores in points."""
    return 3 if metric.startswith(WEIGHT) else 2


def verdict(h: Hypothesis, alpha: float) -> str:
    if math.isnan(h.p):
        return "n/a"
    if h.p_holm <= alpha:
        return "held"
    if h.p_opp_holm <= alpha:
        return "contradicted"
    return f"inconclusive (MDE = {h.mde:.{digits(h.metric)}f})" if not math.isnan(h.mde) else "inconclusive"


def evaluate(data: Data) -> list[Hypothesis]:
    """Every hypothesis of claims.json with its Holm-adjusted verdict and its chance pass rate."""
    if data.spec is None:
        return []
    alpha = float(data.spec.get("alpha", inference.ALPHA))
    hyps = [h for claim in data.spec["list"] for h in KINDS[claim["kind"]](data, claim)]
    rng = np.random.default_rng(int(data.spec.get("seed", 0)))
    sims = int(data.spec.get("null_simulations", 2000))
    for family in dict.fromkeys(h.family for h in hyps):
        members = [h for h in hyps if h.family == family and not math.isnan(h.p)]
        if not members:
            continue
        p = np.array([h.p for h in members])
        adjusted, adjusted_opp = inference.holm(p), inference.holm(np.array([h.p_opp for h in members]))
        levels = inference.holm_levels(p, alpha)
        for h, pa, po, lv in zip(members, adjusted, adjusted_opp, levels, strict=True):
            h.p_holm, h.p_opp_holm, h.level = float(pa), float(po), float(lv)
            h.verdict = verdict(h, alpha)
        held = null_pass_rates(data, members, sims, alpha, rng)
        for h, rate in zip(members, held.mean(axis=0), strict=True):
            h.chance = float(rate)
        for i, h in enumerate(members):
            h.null_held = held[:, i]  # kept for the claim-level chance rate
    for h in hyps:
        if h.verdict == "n/a" and not h.ours:
            h.ours = "not run"
    return hyps


def null_pass_rates(data: Data, members: list[Hypothesis], sims: int, alpha: float,
                    rng: np.random.Generator) -> np.ndarray:
    """held (sims × h): the family's verdicts in simulated experiments with no mixture effect.

    Each metric's runs get independent standard normal values on the experiment's own design (the
    t statistics do not depend on σ); the hypotheses are tested and Holm-adjusted as on the real data.
    """
    Ys = {m: rng.standard_normal((sims, len(data.fit(m).y))) for m in dict.fromkeys(h.metric for h in members)}
    p = np.column_stack([h.null(Ys, rng)[0] for h in members])
    return inference.holm(p) <= alpha


def claim_rows(hyps: list[Hypothesis]) -> pd.DataFrame:
    """One row per claim: its hypotheses' verdicts and the chance that every one comes out held."""
    rows = []
    for cid in dict.fromkeys(h.claim["id"] for h in hyps):
        mine = [h for h in hyps if h.claim["id"] == cid]
        tested = [h for h in mine if h.verdict != "n/a"]
        held = sum(h.verdict == "held" for h in tested)
        contra = sum(h.verdict == "contradicted" for h in tested)
        if not tested:
            verdict_text = "n/a"
        elif len(tested) == 1:
            verdict_text = tested[0].verdict
        elif held == len(tested):
            verdict_text = "held"
        elif contra:
            verdict_text = "contradicted" if contra == len(tested) else f"contradicted on {contra} of {len(tested)}"
        else:
            mdes = [h.mde for h in tested if not math.isnan(h.mde)]
            verdict_text = (f"inconclusive ({held} of {len(tested)} held; MDE = {max(mdes):.{digits(mine[0].metric)}f})"
                            if mdes else "inconclusive")
        sims = [h.null_held for h in tested]
        chance = float(np.all(np.column_stack(sims), axis=1).mean()) if tested and all(
            s is not None for s in sims) else math.nan
        rows.append({"claim": mine[0].claim["text"], "id": cid, "family": mine[0].family,
                     "metric": METRICS.get(mine[0].metric, ("weight",))[0], "hypotheses": len(mine),
                     "held": held, "contradicted": contra, "verdict": verdict_text, "chance_pass_rate": chance})
    return pd.DataFrame(rows, columns=["claim", "id", "family", "metric", "hypotheses", "held", "contradicted",
                                       "verdict", "chance_pass_rate"])


def hypothesis_rows(hyps: list[Hypothesis]) -> pd.DataFrame:
    """One row per hypothesis, numbers and texts (the scorecard's csv)."""
    rows = []
    for h in hyps:
        c, r = h.comparison, h.reviewer
        rows.append({"claim": h.claim["text"], "id": h.claim["id"], "family": h.family, "scope": h.scope,
                     "arms": h.arms, "metric": h.metric, "direction": "greater" if h.direction > 0 else "less",
                     "effect": c.effect if c else math.nan, "ci_lo": c.lo if c else math.nan,
                     "ci_hi": c.hi if c else math.nan, "se": c.se if c else math.nan, "df": c.df if c else math.nan,
                     "p": h.p, "p_holm": h.p_holm, "p_other_way": h.p_opp, "p_other_way_holm": h.p_opp_holm,
                     "holm_level": h.level,
                     "holm_bound": c.bound(h.direction, h.level) if c and not math.isnan(h.level) else math.nan,
                     "mde": h.mde, "verdict": h.verdict, "chance_pass_rate": h.chance,
                     "reviewer_effect": r.effect if r else math.nan, "reviewer_lo": r.lo if r else math.nan,
                     "reviewer_hi": r.hi if r else math.nan, "reviewer_df": r.df if r else math.nan,
                     "paper_effect": h.paper_effect, "ours": h.ours, "paper": h.paper})
    return pd.DataFrame(rows)
