"""Test the pre-declared claims of results/<exp>/summary/claims.json: one row per hypothesis, families in a
fixed order, Holm within each, and error rates simulated through the same verdict code.

Not run by itself: analysis/scorecard.py and analysis/power.py use it.

    from analysis import claims
    evaluated = claims.evaluate(claims.load(Path("results/default")))

claims.json is the config's `claims:` section as `python -m mos aggregate --claims` wrote it (resolved
by `python -m mos config claims CONFIG`): the arms each claim compares on each backbone, the metric,
the paper's direction and the claim's family. Without claims.json the scorecard says so and scores nothing.

The procedure (pre-declared, the same for the data and for every simulated experiment):

* Each hypothesis gets its difference from analysis/inference.py (θ0-level, each contrast against the
  interaction of its own cells), a one-sided p in the paper's direction (p_held), one the other way
  (p_contra) and the two-sided p = min(1, 2·min(p_held, p_contra)). A list of reference arms is an
  intersection-union test: p_held is the largest pairwise p, p_contra the Bonferroni of the smallest.
* The families are tested in their fixed order (claims.json `families`: primary, secondary, weights), each
  with its share of the overall α (`family_alpha`; the shares sum to α), by Holm's step-down procedure on
  the two-sided p-values. A family all of whose hypotheses are rejected passes its share on to the next
  (the fallback procedure): the chance that any hypothesis of the whole scorecard is wrongly held or
  contradicted is at most α. A rejected hypothesis is "held" in the paper's direction, else
  "contradicted". A hypothesis that is not rejected but whose interval at its Holm level lies below the
  paper's own effect (one-sided, the same level) is "smaller than the paper's effect"; otherwise it is
  "inconclusive" with its MDE at the level it was tested at. A family named `check` (the A/A pair) is
  outside the α budget: each of its hypotheses is tested alone at α (it checks the machinery, not the paper).
* Chance pass rates: the same procedure on `null_simulations` experiments drawn from the fitted variance
  components with no mixture effect (analysis/variance.py: fresh θ0s and seeds); P(same verdict): on
  experiments drawn around the observed cell means (fresh θ0s and seeds, the observed means taken as true).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis import best_differs, common, inference, variance
from analysis.claim_data import CLAIMS_FILE, METRICS, PAPER_LLAMA, WEIGHT, Data, load, paper_value  # noqa: F401

FAMILY_ORDER = ("primary", "secondary", "weights")
CHECK = "check"  # a family outside the α budget (the A/A pair)
INCONCLUSIVE, HELD, CONTRADICTED, SMALLER, NOT_TESTABLE = 0, 1, 2, 3, -1
Stats = Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


# ---------------------------------------------------------------- hypotheses


@dataclass
class Hypothesis:
    """One tested statement: a claim on one backbone (or across backbones)."""

    claim: dict
    scope: str
    arms: str
    metric: str
    direction: int                                  # +1: the paper says greater, −1: less
    comparison: inference.Comparison | None = None  # the model's (the least favourable pair for a list of b)
    reviewer: inference.Comparison | None = None    # θ0-level paired t computed by hand from the values
    p_held: float = math.nan                        # one-sided p in the paper's direction
    p_contra: float = math.nan                      # one-sided p in the other direction
    ours: str = ""
    paper: str = ""
    paper_effect: float = math.nan
    stats: Stats | None = None                      # (p_held, p_contra, p_smaller, effect) of experiments Ys
    p_holm: float = math.nan                        # Holm-adjusted two-sided p within the family's share
    level: float = math.nan                         # the two-sided level Holm tests it at (its share included)
    mde: float = math.nan                           # at `level`, 80% power
    verdict: str = "n/a"
    code: int = NOT_TESTABLE
    chance: float = math.nan                        # P(held) without any mixture effect, the procedure included
    same_verdict: float = math.nan                  # P(the same verdict) on new θ0s and seeds
    null_codes: np.ndarray | None = None

    @property
    def family(self) -> str:
        return self.claim["family"]

    @property
    def p(self) -> float:
        """The two-sided p the family's Holm procedure uses."""
        return min(1.0, 2 * min(self.p_held, self.p_contra)) if not math.isnan(self.p_held) else math.nan


def fmt_interval(c: inference.Comparison | None, digits: int = 2) -> str:
    """'+1.20 [−0.50, +2.90]', or 'n/a'."""
    if c is None or pd.isna(c.effect):
        return "n/a"
    if pd.isna(c.se) or not c.testable:
        return f"{signed(c.effect, digits)} (not testable: one θ0)"
    return f"{signed(c.effect, digits)} [{signed(c.lo, digits)}, {signed(c.hi, digits)}]"


def signed(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:+.{digits}f}".replace("-", "−")


def one_sided(effect: np.ndarray, se: np.ndarray, df: np.ndarray, direction: int, null: float = 0.0) -> np.ndarray:
    """P(T ≥ direction·(effect − null)/se) under df; NaN where untestable (fewer than two replicates). With no
    variation at all (se = 0) the sign decides, as inference.Comparison.p does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (effect - null) / se
        p = stats.t.sf(direction * t, np.where(df > 0, df, np.nan))
    sign = np.where(direction * (effect - null) > 0, 0.0, 1.0)
    return np.where(df > 0, np.where(se > 0, p, np.where(se == 0, sign, np.nan)), np.nan)


def reviewer_t(frame: pd.DataFrame, backbone: str, a: str, b: str) -> inference.Comparison:
    """The reviewer's check, by hand from the per-run values: seeds averaged within θ0, then scipy's paired t
    over the θ0s both arms share (n − 1 df)."""
    part = frame[frame["backbone"] == backbone]
    part = part.assign(unit=inference.replicate_unit(part))  # θ0, or the seed where runs name no θ0
    means = part.groupby(["mixture", "unit"])["value"].mean().unstack("mixture")
    if a not in means or b not in means:
        return inference.comparison(math.nan, math.nan, 0, 0, 0, math.nan)
    pair = means[[a, b]].dropna()
    n = len(pair)
    if n < 2:
        return inference.comparison(float((pair[a] - pair[b]).mean()) if n else math.nan, math.nan, 0, n, n, math.nan)
    d = (pair[a] - pair[b]).to_numpy()
    test = stats.ttest_rel(pair[a], pair[b])
    se = abs(d.mean() / test.statistic) if test.statistic else d.std(ddof=1) / math.sqrt(n)
    return inference.comparison(d.mean(), se, n - 1, n, n, d.std(ddof=1))


def _paper_smaller(effect: np.ndarray, se: np.ndarray, df: np.ndarray, direction: int, paper: float) -> np.ndarray:
    """p of "the effect is smaller than the paper's" (one-sided toward the null) where the paper's effect is in
    the claimed direction; NaN otherwise."""
    if math.isnan(paper) or direction * paper <= 0:
        return np.full(np.shape(effect), np.nan)
    return one_sided(effect, se, df, -direction, paper)


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
        weights = [{(backbone, a): 1.0, (backbone, r): -1.0} for r in refs]
        papers = [paper_value(data, backbone, a, metric) - paper_value(data, backbone, r, metric) for r in refs]
        k = len(refs)

        def compute(Ys: dict[str, np.ndarray], fit=fit, weights=weights, papers=papers, direction=direction,
                    k=k, metric=metric) -> tuple[np.ndarray, ...]:
            effect, se, df = (np.column_stack(v) for v in zip(*(fit.contrast_stats(w, Ys[metric]) for w in weights),
                                                             strict=True))
            held = one_sided(effect, se, df, direction)
            contra = one_sided(effect, se, df, -direction)
            worst = np.nanargmax(np.where(np.isnan(held), -1.0, held), axis=1)
            rows = np.arange(len(effect))
            small = np.column_stack([_paper_smaller(effect[:, j], se[:, j], df[:, j], direction, papers[j])
                                     for j in range(k)])
            return (held[rows, worst], np.minimum(1.0, k * np.nanmin(contra, axis=1)) if k > 1 else contra[:, 0],
                    small[rows, worst], effect[rows, worst])

        h.stats = compute
        comps = [fit.contrast(w) for w in weights]
        ps = [c.p(direction) for c in comps]
        worst = int(np.nanargmax([p if not math.isnan(p) else -1 for p in ps]))
        h.comparison = comps[worst]
        h.reviewer = reviewer_t(data.values[metric], backbone, a, refs[worst])
        h.ours = f"{header} Δ = {fmt_interval(h.comparison, digits(metric))}" + (f" vs {refs[worst]}" if k > 1 else "")
        if not all(map(math.isnan, papers)):
            h.paper_effect = papers[worst] if not math.isnan(papers[worst]) else min(
                (p for p in papers if not math.isnan(p)), key=lambda d: direction * d)
            h.paper = f"Δ = {signed(h.paper_effect)}" + (f" ({data.paper_backbone(backbone)})" if metric != "mu_all"
                                                         else f" ({PAPER_LLAMA})")
    return out


def gain_trend_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind gain_trend: (a − b) on the last backbone minus (a − b) on the first (independent θ0s: Welch)."""
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
    h.ours = f"{header} gain difference = {fmt_interval(h.comparison, digits(metric))}"
    paper = [sum(w * paper_value(data, b, m, metric) for (b, m), w in cells.items() if b == bb) for bb in (last, first)]
    h.paper_effect = paper[0] - paper[1]
    if not math.isnan(h.paper_effect):
        h.paper = f"{signed(paper[0])} − {signed(paper[1])} = {signed(h.paper_effect)}"

    def compute(Ys: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        effect, se, df = fit.contrast_stats(cells, Ys[metric])
        return (one_sided(effect, se, df, direction), one_sided(effect, se, df, -direction),
                _paper_smaller(effect, se, df, direction, h.paper_effect), effect)

    h.stats = compute
    return [h]


def weight_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind weight_change: the mean end − start of one dataset's weight over θ0s, per backbone, against 0
    (the mixture's own θ0-level spread: no σ borrowed from other mixtures, REVIEW M6)."""
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
        est = fit.cell(backbone, mixture)
        h.ours = (f"{dataset} {signed(est.mean, 3)} [{signed(est.lo, 3)}, {signed(est.hi, 3)}]" if est.n > 1
                  else f"{dataset} {signed(est.mean, 3)} (not testable: one θ0)")
        h.paper_effect = data.paper_changes.get((common.label_key(data.label(backbone, mixture)), dataset), math.nan)
        if not math.isnan(h.paper_effect):
            h.paper = f"{dataset} {signed(h.paper_effect, 3)} ({PAPER_LLAMA})"
        cell = {(backbone, mixture): 1.0}

        def compute(Ys: dict[str, np.ndarray], fit=fit, cell=cell, direction=direction, metric=metric,
                    h=h) -> tuple[np.ndarray, ...]:
            effect, se, df = fit.contrast_stats(cell, Ys[metric])
            return (one_sided(effect, se, df, direction), one_sided(effect, se, df, -direction),
                    _paper_smaller(effect, se, df, direction, h.paper_effect), effect)

        h.stats = compute
    return out


def best_differs_hypotheses(data: Data, claim: dict) -> list[Hypothesis]:
    """kind best_differs: the max-statistic permutation test of best_differs.best_differs_test."""
    metric, arms, backbones = claim["metric"], claim["arms"], claim["backbones"]
    h = Hypothesis(claim, "all", " / ".join(arms), metric, 1)
    fit, header = data.fit(metric), METRICS[metric][0]
    if fit is None or not all(fit.has(b, a) for b in backbones for a in arms):
        h.ours = f"not run ({header} missing)"
        return [h]
    try:
        design = best_differs.BestDiffersDesign(fit, backbones, arms)
    except ValueError as e:
        h.ours = f"not testable ({e})"
        return [h]
    spec = data.spec or {}
    result = best_differs.best_differs_test(fit, backbones, arms, int(spec.get("permutations", 2000)),
                                         int(spec.get("seed", 0)))
    h.p_held, h.p_contra = result.p_held, result.p_contradicted
    h.ours = "best: " + "; ".join(f"{b} {result.best[b]}" for b in backbones) + \
        f" (permutation p per arm: {', '.join(f'{a} {p:.3f}' for a, p in result.p_each.items())})"
    paper_best = {}
    for b in backbones:
        found = {a: paper_value(data, b, a, metric) for a in arms}
        if not any(map(math.isnan, found.values())):
            paper_best[b] = max(found, key=found.get)
    if paper_best:
        h.paper = "best: " + "; ".join(f"{data.paper_backbone(b)} {a}" for b, a in paper_best.items())
    reference: dict[str, np.ndarray] = {}

    def compute(Ys: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        if Ys[metric].shape[0] == 1:  # the data: the permutation test itself
            nan = np.full(1, np.nan)
            return np.array([h.p_held]), np.array([h.p_contra]), nan, nan
        if "null" not in reference:  # simulated experiments: ranked among null experiments of this design
            reference["null"] = variance.simulate(fit, data.components_of(metric), 2000,
                                                  np.random.default_rng(int(spec.get("seed", 0)) + 1))
        held, contra = design.simulated_pvalues(Ys[metric], reference["null"])
        nan = np.full(len(held), np.nan)
        return held, contra, nan, nan

    h.stats = compute
    return [h]


KINDS = {"contrast": contrast_hypotheses, "gain_trend": gain_trend_hypotheses,
         "weight_change": weight_hypotheses, "best_differs": best_differs_hypotheses}


# ---------------------------------------------------------------- the procedure: families, Holm, verdicts


def digits(metric: str) -> int:
    """Decimals of a metric's differences: 3 for sampling weights, 2 for scores in points."""
    return 3 if metric.startswith(WEIGHT) else 2


def family_alpha(spec: dict) -> dict[str, float]:
    """Each family's share of α, in the fixed testing order (claims.json `family_alpha`)."""
    alpha = float(spec.get("alpha", inference.ALPHA))
    shares = dict(spec.get("family_alpha") or {"primary": 0.8 * alpha, "secondary": 0.16 * alpha,
                                                "weights": 0.04 * alpha})
    return {f: float(shares[f]) for f in [*FAMILY_ORDER, *[f for f in shares if f not in FAMILY_ORDER]] if f in shares}


def decide(p_held: np.ndarray, p_contra: np.ndarray, p_small: np.ndarray, families: list[str],
           shares: dict[str, float], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Verdict codes and two-sided Holm levels (each S × h) of S experiments' hypotheses (module docstring)."""
    S, H = p_held.shape
    p2 = np.minimum(1.0, 2 * np.minimum(p_held, p_contra))
    codes, levels = np.full((S, H), NOT_TESTABLE), np.full((S, H), np.nan)
    carry = np.zeros(S)
    for family in [*shares, *[f for f in dict.fromkeys(families) if f not in shares]]:
        idx = np.array([j for j, f in enumerate(families) if f == family], dtype=int)
        if not len(idx):
            continue
        if family == CHECK:  # outside the budget: each alone at α
            level = np.full((S, len(idx)), alpha)
            reject = p2[:, idx] <= level
        else:
            budget = shares.get(family, 0.0) + carry
            P = np.where(np.isnan(p2[:, idx]), np.inf, p2[:, idx])
            m = (~np.isnan(p2[:, idx])).sum(axis=1)
            order = np.argsort(P, axis=1, kind="stable")
            ranks = np.arange(len(idx))[None, :]
            sorted_level = budget[:, None] / np.maximum(m[:, None] - ranks, 1)
            sorted_reject = np.cumprod(np.take_along_axis(P, order, axis=1) <= sorted_level, axis=1).astype(bool)
            level, reject = np.empty_like(sorted_level), np.empty_like(sorted_reject)
            np.put_along_axis(level, order, sorted_level, axis=1)
            np.put_along_axis(reject, order, sorted_reject, axis=1)
            tested = ~np.isnan(p2[:, idx])
            carry = np.where((reject | ~tested).all(axis=1), budget, 0.0)
        tested = ~np.isnan(p2[:, idx])
        held = reject & (p_held[:, idx] <= p_contra[:, idx])
        smaller = ~reject & (p_small[:, idx] <= level / 2)
        code = np.select([~tested, held, reject, smaller], [NOT_TESTABLE, HELD, CONTRADICTED, SMALLER], INCONCLUSIVE)
        codes[:, idx] = code
        levels[:, idx] = np.where(tested, level, np.nan)
    return codes, levels


def verdict_text(h: Hypothesis) -> str:
    if h.code == NOT_TESTABLE:
        return "not testable (fewer than two θ0s)" if h.comparison is not None else "n/a"
    if h.code == HELD:
        return "held"
    if h.code == CONTRADICTED:
        return "contradicted"
    if h.code == SMALLER:
        return f"smaller than the paper's effect ({signed(h.paper_effect, digits(h.metric))})"
    return f"inconclusive (MDE = {h.mde:.{digits(h.metric)}f})" if not math.isnan(h.mde) else "inconclusive"


def run_procedure(hyps: list[Hypothesis], Ys: dict[str, np.ndarray], shares: dict[str, float],
                  alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Verdict codes and levels (S × h) of the experiments Ys through every hypothesis's statistics."""
    S = next(iter(Ys.values())).shape[0] if Ys else 1
    cols = [h.stats(Ys) if h.stats else (np.full(S, np.nan),) * 4 for h in hyps]
    held, contra, small = (np.column_stack([c[i] for c in cols]) for i in range(3))
    return decide(held, contra, small, [h.family for h in hyps], shares, alpha)


def evaluate(data: Data, simulations: int | None = None) -> list[Hypothesis]:
    """Every hypothesis of claims.json with its verdict, chance pass rate and P(same verdict)."""
    if data.spec is None:
        return []
    spec = data.spec
    alpha, shares = float(spec.get("alpha", inference.ALPHA)), family_alpha(spec)
    hyps = [h for claim in spec["list"] for h in KINDS[claim["kind"]](data, claim)]
    if not hyps:
        return []
    metrics = list(dict.fromkeys(h.metric for h in hyps if h.stats))
    real = {m: data.fit(m).y[None, :] for m in metrics}
    codes, levels = run_procedure(hyps, real, shares, alpha)
    for j, h in enumerate(hyps):
        if h.stats is not None and h.comparison is not None:
            h.p_held, h.p_contra = (float(v[0]) for v in h.stats(real)[:2])
        h.code, h.level = int(codes[0, j]), float(levels[0, j])
        if h.comparison is not None and not math.isnan(h.level):
            h.mde = h.comparison.mde_at(h.level)
    for family in dict.fromkeys(h.family for h in hyps):  # Holm-adjusted p, on the scale of the overall α
        members = [h for h in hyps if h.family == family and not math.isnan(h.level)]
        if members:
            budget = max(h.level for h in members)  # the largest p is tested at the family's whole budget
            adjusted = inference.holm(np.array([h.p for h in members])) if family != CHECK else \
                np.array([h.p for h in members])
            for h, p in zip(members, adjusted, strict=True):
                h.p_holm = float(min(1.0, p * alpha / budget))
    for h in hyps:
        h.verdict = verdict_text(h)
        if h.verdict == "n/a" and not h.ours:
            h.ours = "not run"
    sims = int(spec.get("null_simulations", 2000) if simulations is None else simulations)
    if sims and metrics:
        rng = np.random.default_rng(int(spec.get("seed", 0)))
        comps = {m: data.components_of(m) for m in metrics}
        null = {m: variance.simulate(data.fit(m), comps[m], sims, rng) for m in metrics}
        null_codes, _ = run_procedure(hyps, null, shares, alpha)
        observed = {m: {c: float(v) for c, v in zip(data.fit(m).cells, cell_means(data.fit(m)), strict=True)}
                    for m in metrics}
        again = {m: variance.simulate(data.fit(m), comps[m], sims, rng, observed[m]) for m in metrics}
        again_codes, _ = run_procedure(hyps, again, shares, alpha)
        for j, h in enumerate(hyps):
            if h.code != NOT_TESTABLE:
                h.null_codes = null_codes[:, j]
                h.chance = float((null_codes[:, j] == HELD).mean())
                h.same_verdict = float((again_codes[:, j] == h.code).mean())
    return hyps


def cell_means(fit: inference.Fit) -> np.ndarray:
    """Each cell's mean over its θ0 means (the observed means the P(same verdict) simulation takes as true)."""
    m = fit.y @ fit.A
    return np.array([np.mean([m[fit._unit_pos[(b, c, t)]] for t in fit.theta0s[(b, c)]]) for b, c in fit.cells])


def familywise(hyps: list[Hypothesis]) -> dict[str, float]:
    """Simulated without any mixture effect: P(some hypothesis held) and P(some held or contradicted), over
    the families inside the α budget."""
    codes = [h.null_codes for h in hyps if h.null_codes is not None and h.family != CHECK]
    if not codes:
        return {"any_held": math.nan, "any_rejected": math.nan}
    c = np.column_stack(codes)
    return {"any_held": float((c == HELD).any(axis=1).mean()),
            "any_rejected": float(((c == HELD) | (c == CONTRADICTED)).any(axis=1).mean())}


# ---------------------------------------------------------------- tables


def claim_rows(hyps: list[Hypothesis]) -> pd.DataFrame:
    """One row per claim: its hypotheses' verdicts and the chance that every one comes out held."""
    rows = []
    for cid in dict.fromkeys(h.claim["id"] for h in hyps):
        mine = [h for h in hyps if h.claim["id"] == cid]
        tested = [h for h in mine if h.code != NOT_TESTABLE]
        held = sum(h.code == HELD for h in tested)
        contra = sum(h.code == CONTRADICTED for h in tested)
        smaller = sum(h.code == SMALLER for h in tested)
        if not tested:
            text = "not testable (fewer than two θ0s)" if any(h.comparison is not None for h in mine) else "n/a"
        elif len(tested) == 1:
            text = tested[0].verdict
        elif held == len(tested):
            text = "held"
        elif contra:
            text = "contradicted" if contra == len(tested) else f"contradicted on {contra} of {len(tested)}"
        elif smaller == len(tested):
            text = "smaller than the paper's effect"
        else:
            mdes = [h.mde for h in tested if not math.isnan(h.mde)]
            text = (f"inconclusive ({held} of {len(tested)} held; MDE = {max(mdes):.{digits(mine[0].metric)}f})"
                    if mdes else "inconclusive")
        sims = [h.null_codes for h in tested]
        chance = float(np.all(np.column_stack(sims) == HELD, axis=1).mean()) if tested and all(
            s is not None for s in sims) else math.nan
        rows.append({"claim": mine[0].claim["text"], "id": cid, "family": mine[0].family,
                     "metric": METRICS.get(mine[0].metric, ("weight",))[0], "hypotheses": len(mine),
                     "held": held, "contradicted": contra, "verdict": text, "chance_pass_rate": chance})
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
                     "p": h.p, "p_paper_direction": h.p_held, "p_other_way": h.p_contra, "p_holm": h.p_holm,
                     "holm_level": h.level, "mde": h.mde, "verdict": h.verdict, "chance_pass_rate": h.chance,
                     "same_verdict": h.same_verdict,
                     "reviewer_effect": r.effect if r else math.nan, "reviewer_lo": r.lo if r else math.nan,
                     "reviewer_hi": r.hi if r else math.nan, "reviewer_df": r.df if r else math.nan,
                     "paper_effect": h.paper_effect, "ours": h.ours, "paper": h.paper})
    return pd.DataFrame(rows)
