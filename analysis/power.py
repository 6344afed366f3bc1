"""Power table: how precisely the experiment measures each pre-declared primary comparison.

    python analysis/power.py results/<exp>

Reads results/<exp>/summary/claims.json and the summary CSVs. For every contrast of the primary
family (arm a vs arm b on one backbone) and each of µMU, µMB and µBOTH (and the claim's own metric,
e.g. µALL) it writes, from the pooled model of analysis/inference.py: seeds per arm, the pooled σ and
its df, the 95% CI half-width of the difference, the minimal detectable effect at 80% power and the
power at Δ = targets.delta (µMB: delta / 5, the same change of µBOTH); then the same from the
reviewer's seed-level paired t (n − 1 df); and the seeds per arm that would reach the targets
(half-width ≤ targets.half_width, power ≥ targets.power; inference.seeds_needed, also on the command
line: python -m analysis.inference plan --sigma S). Writes results/<exp>/tables/power.{md,csv,tex}.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import claims, common, inference, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "trajectory.csv", "claims.json"],
          "writes": ["tables/power.md", "tables/power.csv"]}
METRICS = values.HEADLINE  # µMU, µMB, µBOTH

# %%


def rows(data: claims.Data) -> list[dict]:
    """One row per primary contrast × metric."""
    out = []
    for claim in (data.spec or {}).get("list", []):
        if claim["family"] != "primary" or claim["kind"] != "contrast":
            continue
        metrics = [*METRICS, *([claim["metric"]] if claim["metric"] not in METRICS else [])]
        for backbone in claim["backbones"]:
            a, refs = claim["a"][backbone], claim["b"][backbone]
            for b in refs:
                for metric in metrics:
                    fit = data.fit(metric)
                    if fit is None or not (fit.has(backbone, a) and fit.has(backbone, b)):
                        continue
                    out.append(row(data, claim, backbone, a, b, metric, fit))
    return out


def row(data: claims.Data, claim: dict, backbone: str, a: str, b: str, metric: str,
        fit: inference.Fit) -> dict:
    """The pooled and the reviewer's precision of one difference in one metric."""
    half, delta, power = common.targets(data.spec, metric)
    c = fit.compare(backbone, a, b)
    series = data.values[metric].query("backbone == @backbone").set_index(["mixture", "seed"])["value"]
    r = inference.paired_t(series.loc[a], series.loc[b], fit.scale)
    need = inference.seeds_needed(c.sigma, half, delta, power, cells=len(fit.cells),
                                  paired_sd=r.sigma if r.sigma == r.sigma else None)
    return {"claim": claim["text"], "id": claim["id"], "backbone": backbone, "arms": f"{a} vs {b}",
            "metric": claims.METRICS[metric][0], "n_a": c.n_a, "n_b": c.n_b, "sigma": c.sigma, "df": c.df,
            "half_width": c.half_width, "mde": c.mde, "delta": delta, "power": c.power(delta),
            "target_half_width": half, "meets_targets": bool(c.half_width <= half and c.power(delta) >= power),
            "reviewer_n": r.n_a, "reviewer_sd": r.sigma, "reviewer_df": r.df, "reviewer_half_width": r.half_width,
            "reviewer_mde": r.mde, "reviewer_power": r.power(delta),
            "seeds_needed_pooled": need["pooled"], "seeds_needed_paired": need["paired"],
            "effect": c.effect, "same_verdict": inference.same_verdict_probability(c.effect, c.se, c.df)}


def display(table: pd.DataFrame) -> pd.DataFrame:
    def num(col: str, digits: int = 2) -> pd.Series:
        return table[col].map(lambda v: common.fmt_number(v, digits))

    def pct(col: str) -> pd.Series:
        return table[col].map(lambda v: "–" if pd.isna(v) else f"{100 * v:.0f}%")

    return pd.DataFrame({
        "Claim": table["id"], "Backbone": table["backbone"], "Arms": table["arms"], "Metric": table["metric"],
        "Seeds": [f"{a} / {b}" for a, b in zip(table["n_a"], table["n_b"], strict=True)],
        "σ (df)": [f"{s:.3g} ({d:.0f})" for s, d in zip(table["sigma"], table["df"], strict=True)],
        "± half-width": num("half_width"), "MDE": num("mde"),
        "Power at Δ": [f"{100 * p:.0f}% at {d:g}" for p, d in zip(table["power"], table["delta"], strict=True)],
        "Targets met": table["meets_targets"].map({True: "yes", False: "no"}),
        "Paired t: SD_d (df)": [f"{s:.3g} ({d:.0f})" if s == s else "–"
                                for s, d in zip(table["reviewer_sd"], table["reviewer_df"], strict=True)],
        "Paired ± half-width": num("reviewer_half_width"), "Paired MDE": num("reviewer_mde"),
        "Paired power at Δ": pct("reviewer_power"),
        "Seeds needed (pooled / paired)": [f"{a} / {b}" for a, b in zip(table["seeds_needed_pooled"],
                                                                       table["seeds_needed_paired"], strict=True)],
        "Δ (pooled)": [common.fmt_signed(v) for v in table["effect"]],
        "P(same verdict on a rerun)": pct("same_verdict"),
    })


def write_all(exp: Path) -> list[Path]:
    """Write tables/power.{md,csv,tex} for one experiment folder."""
    data = claims.load(exp)
    stem = Path(exp) / "tables" / "power"
    title = "Power of the pre-declared primary comparisons"
    if data.spec is None:
        empty = pd.DataFrame(columns=["Claim", "Backbone", "Metric"])
        return common.write_table(empty, empty, stem, title, [
            f"No summary/{claims.CLAIMS_FILE}: no pre-declared comparison (see analysis/claims.py)."])
    table = pd.DataFrame(rows(data))
    if table.empty:
        empty = pd.DataFrame(columns=["Claim", "Backbone", "Metric"])
        return common.write_table(empty, empty, stem, title, ["No primary contrast could be computed."])
    half, delta, power = common.targets(data.spec, "mu_both")
    mb = common.MB_SCALE
    notes = [common.precision_sentence(table, data.spec),
             "Pooled: the difference of two cells in the model of analysis/inference.py (σ pooled over every cell "
             "of the metric, paired by seed); ± half-width of its 95% interval; MDE = (t₀.₉₇₅ + t₀.₈₀)·SE; power: the "
             f"exact noncentral-t power of the two-sided 5% test at Δ = {delta:g} points (µMB: "
             f"{delta / mb:g}, the same change of µBOTH). Targets: half-width ≤ {half:g} (µMB {half / mb:g}) "
             "and power ≥ "
             f"{100 * power:.0f}%.",
             "Paired t: the reviewer's seed-level paired t over the seeds both arms share (n − 1 df, SD_d of the "
             "per-seed differences), straight from summary/metrics.csv.",
             "Seeds needed: the fewest seeds per arm reaching both targets with this σ (pooled over as many cells "
             "as now) or with this SD_d (paired t): inference.seeds_needed, `python -m analysis.inference plan`.",
             "P(same verdict on a rerun): the chance that an independent rerun of this design (another machine, "
             "other float rounding) puts the difference on the same side of its 95% interval (above 0, below 0, "
             "or inconclusive), predicted from this run: d' ~ N(Δ, 2·SE²) (inference.same_verdict_probability).",
             *data.notes]
    return common.write_table(display(table), table, stem, title, notes)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))

