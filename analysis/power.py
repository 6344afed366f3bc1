"""Power table: how precisely the experiment measures each pre-declared primary comparison, and how many θ0s
would reach the targets.

    python analysis/power.py results/<exp>

Reads results/<exp>/summary/claims.json and the summary CSVs. For every contrast of the primary family
(arm a vs arm b on one backbone) and each of µMU, µMB and µBOTH (and the claim's own metric, e.g. µALL):
the θ0s both arms share, the SD of the per-θ0 differences (seeds averaged within θ0) and n − 1 df, the
95% half-width of the difference, the two-sided level Holm tests the claim at and the MDE and power at
that level (Δ = targets.delta; µMB: delta / 5, the same change of µBOTH), P(same verdict) on new θ0s and
seeds (simulated through the scorecard's own procedure: analysis/claims.py), and the θ0s (one seed each)
that would reach the targets (half-width ≤ targets.half_width, power ≥ targets.power at 95%) with this SD —
more seeds per θ0 cannot: the mixture × θ0 interaction sets a floor (analysis/variance.py, also on the
command line: python -m analysis.variance plan). Then the REML variance components of each metric.
Writes results/<exp>/tables/power.{md,csv,tex}. A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import claims, common, inference, values, variance

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "trajectory.csv", "claims.json"],
          "writes": ["tables/power.md", "tables/power.csv"]}
METRICS = values.HEADLINE  # µMU, µMB, µBOTH

# %%


def rows(data: claims.Data, hyps: list[claims.Hypothesis]) -> list[dict]:
    """One row per primary contrast × metric."""
    out = []
    primary = {(h.claim["id"], h.scope): h for h in hyps if h.family == "primary"}
    for claim in (data.spec or {}).get("list", []):
        if claim["family"] != "primary" or claim["kind"] != "contrast":
            continue
        metrics = [*METRICS, *([claim["metric"]] if claim["metric"] not in METRICS else [])]
        for backbone in claim["backbones"]:
            a, refs = claim["a"][backbone], claim["b"][backbone]
            h = primary.get((claim["id"], backbone))
            for b in refs:
                for metric in metrics:
                    fit = data.fit(metric)
                    if fit is None or not (fit.has(backbone, a) and fit.has(backbone, b)):
                        continue
                    out.append(row(data, claim, backbone, a, b, metric, fit, h))
    return out


def row(data: claims.Data, claim: dict, backbone: str, a: str, b: str, metric: str, fit: inference.Fit,
        h: claims.Hypothesis | None) -> dict:
    """The θ0-level precision of one difference in one metric, at the 95% level and at its Holm level."""
    half, delta, power = common.targets(data.spec, metric)
    c = fit.compare(backbone, a, b)
    level = h.level if h is not None and h.metric == metric and not pd.isna(h.level) else inference.ALPHA
    diff_var = c.sigma ** 2 if c.testable else float("nan")
    need = variance.theta0s_needed(diff_var, half, delta, power) if c.testable else float("nan")
    comps = data.components_of(metric).get(backbone)
    return {"claim": claim["text"], "id": claim["id"], "backbone": backbone, "arms": f"{a} vs {b}",
            "metric": claims.METRICS[metric][0], "theta0s": c.n_a, "sd_d": c.sigma, "df": c.df,
            "half_width": c.half_width(), "level": level, "mde": c.mde_at(level), "delta": delta,
            "power": c.power(delta, level), "power_95": c.power(delta), "target_half_width": half,
            "meets_targets": bool(c.half_width() <= half and c.power(delta) >= power),
            "theta0s_needed": need, "effect": c.effect,
            "same_verdict": h.same_verdict if h is not None and h.metric == metric else float("nan"),
            "var_theta0": comps.theta0 if comps else float("nan"),
            "var_interaction": comps.interaction if comps else float("nan"),
            "var_seed": comps.seed if comps else float("nan")}


def display(table: pd.DataFrame) -> pd.DataFrame:
    def num(col: str, digits: int = 2) -> pd.Series:
        return table[col].map(lambda v: common.fmt_number(v, digits))

    def pct(col: str) -> pd.Series:
        return table[col].map(lambda v: "–" if pd.isna(v) else f"{100 * v:.0f}%")

    return pd.DataFrame({
        "Claim": table["id"], "Backbone": table["backbone"], "Arms": table["arms"], "Metric": table["metric"],
        "θ0s": table["theta0s"],
        "SD_d (df)": [f"{s:.3g} ({d:.0f})" if s == s else "–" for s, d in zip(table["sd_d"], table["df"], strict=True)],
        "± half-width (95%)": num("half_width"),
        "Holm level": table["level"].map(lambda v: f"{v:.4g}"),
        "MDE at it": num("mde"),
        "Power at Δ (at it)": [f"{100 * p:.0f}% at {d:g}" if p == p else "–"
                               for p, d in zip(table["power"], table["delta"], strict=True)],
        "Targets met (95%)": table["meets_targets"].map({True: "yes", False: "no"}),
        "θ0s needed": table["theta0s_needed"].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}"),
        "Δ": [common.fmt_signed(v) for v in table["effect"]],
        "P(same verdict), new θ0s": pct("same_verdict"),
    })


def components_table(data: claims.Data, backbones: list[str]) -> pd.DataFrame:
    """The REML variance components of every claim metric on the primary backbones."""
    out = []
    for metric in [*METRICS, "mu_all"]:
        if data.fit(metric) is None:
            continue
        for backbone, c in data.components_of(metric).items():
            if backbone in backbones:
                out.append({"Metric": claims.METRICS[metric][0], "Backbone": backbone,
                            "σ²_θ0": common.fmt_number(c.theta0, 3), "σ²_mixture×θ0": common.fmt_number(c.interaction, 3),
                            "σ²_seed": common.fmt_number(c.seed, 3) if c.separable else "– (in σ²_mixture×θ0)",
                            "cells / θ0s / runs": f"{c.cells} / {c.theta0s} / {c.runs}"})
    return pd.DataFrame(out)


def write_all(exp: Path) -> list[Path]:
    """Write tables/power.{md,csv,tex} for one experiment folder."""
    data = claims.load(exp)
    stem = Path(exp) / "tables" / "power"
    title = "Power of the pre-declared primary comparisons"
    if data.spec is None:
        empty = pd.DataFrame(columns=["Claim", "Backbone", "Metric"])
        return common.write_table(empty, empty, stem, title, [
            f"No summary/{claims.CLAIMS_FILE}: no pre-declared comparison (see analysis/claims.py)."])
    hyps = claims.evaluate(data)
    table = pd.DataFrame(rows(data, hyps))
    if table.empty:
        empty = pd.DataFrame(columns=["Claim", "Backbone", "Metric"])
        return common.write_table(empty, empty, stem, title, ["No primary contrast could be computed."])
    half, delta, power = common.targets(data.spec, "mu_both")
    mb = common.MB_SCALE
    comps = components_table(data, list(dict.fromkeys(table["backbone"])))
    notes = [common.precision_sentence(table, data.spec),
             "Each difference is tested on θ0 means (seeds averaged within θ0) against the interaction of its own "
             "two cells: SD_d is the SD of the per-θ0 differences, df = θ0s − 1 (analysis/inference.py). ± "
             "half-width: the 95% interval. Holm level: the two-sided level the scorecard tests this claim at "
             "(its family's share of α, Holm's step); MDE and power at that level, 80% power, at Δ = "
             f"{delta:g} points (µMB: {delta / mb:g}, the same change of µBOTH). Targets (at 95%): half-width ≤ "
             f"{half:g} (µMB {half / mb:g}) and power ≥ {100 * power:.0f}%.",
             "θ0s needed: the fewest θ0s, one seed each, reaching both targets with this SD_d "
             "(analysis/variance.py theta0s_needed; `python -m analysis.variance plan`). Seeds added to the same "
             "θ0s only shrink the seed part of SD_d: the mixture × θ0 interaction is a floor that only more θ0s lower.",
             "P(same verdict), new θ0s: the share of simulated reruns on fresh θ0s and seeds, drawn from the "
             "variance components below around the observed cell means, in which the scorecard's procedure "
             "(families, Holm, verdict rules) reaches this claim's verdict again.",
             "Variance components (REML, statsmodels MixedLM; value ~ mixture, random θ0 intercept, a variance "
             "component per mixture within θ0, residual = seeds; with one seed per mixture and θ0 the interaction "
             "includes the seed noise):\n\n" + (common.markdown_table(comps) if len(comps) else "none estimable"),
             *data.notes]
    return common.write_table(display(table), table, stem, title, notes)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))

