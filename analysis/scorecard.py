"""Replication scorecard: the verdict on each pre-declared claim of the paper, with its error rates.

    python analysis/scorecard.py results/<exp>

Reads results/<exp>/summary/claims.json (the config's `claims:` section: which arms each claim
compares, on which metric and backbones, in the paper's direction, in which family), the summary CSVs and
the paper's numbers in results/paper/*.csv, and tests every hypothesis with analysis/claims.py (the
model: analysis/inference.py; θ0 is the unit of replication). The families are tested in a fixed order,
each with its share of α, by Holm on two-sided p-values: "held" or "contradicted" when rejected, "smaller
than the paper's effect" when the interval at its level excludes the paper's own difference, else
"inconclusive" with its MDE at that level. Beside each: the reviewer's θ0-level paired t, the paper's
difference, the chance that the procedure calls it "held" without any mixture effect, and the chance that
a rerun on new θ0s and seeds reaches the same verdict (both simulated from the fitted variance components
through the same procedure). The A/A pair (family `check`) is reported apart. Writes
results/<exp>/tables/scorecard.{md,csv,tex}. Without claims.json it writes a scorecard that says how to
produce it, and scores nothing. A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import claims, common, inference
from mos.common.io import atomic_write_text

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "trajectory.csv", "claims.json"],
          "writes": ["tables/scorecard.md", "tables/scorecard.csv"]}

# %% [markdown]
# ## Formatting

# %%


def fmt_rate(rate: float, sims: int) -> str:
    """A chance pass rate in %, '< x%' when no simulated experiment passed."""
    if pd.isna(rate):
        return "n/a"
    return f"< {100 / sims:.2g}%" if rate == 0 else f"{100 * rate:.1f}%"


def fmt_p(p: float) -> str:
    return "n/a" if pd.isna(p) else ("< 0.0001" if p < 1e-4 else f"{p:.4f}")


def display(hyps: list[claims.Hypothesis], sims: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claim-level and hypothesis-level display frames (claims inside the α budget)."""
    scored = [h for h in hyps if h.family != claims.CHECK]
    per_claim = claims.claim_rows(scored)
    top = pd.DataFrame({"Claim": per_claim["claim"], "Family": per_claim["family"], "Metric": per_claim["metric"],
                        "Verdict": per_claim["verdict"],
                        "Chance of 'held'": [fmt_rate(r, sims) for r in per_claim["chance_pass_rate"]]})
    return top, hypothesis_display(scored, sims)


def hypothesis_display(hyps: list[claims.Hypothesis], sims: int) -> pd.DataFrame:
    rows = []
    for h in hyps:
        d = claims.digits(h.metric)
        rows.append({"Claim": h.claim["text"], "Scope": h.scope, "Arms": h.arms, "Ours: Δ [95% CI]": h.ours,
                     "Reviewer: θ0-level paired t": claims.fmt_interval(h.reviewer, d) if h.reviewer else "–",
                     "Paper": h.paper or "n/a", "p (two-sided)": fmt_p(h.p), "Holm level": fmt_p(h.level),
                     "Verdict": h.verdict, "Chance of 'held'": fmt_rate(h.chance, sims),
                     "P(same verdict), new θ0s": fmt_rate(h.same_verdict, sims)})
    return pd.DataFrame(rows)


def checks_section(hyps: list[claims.Hypothesis], sims: int) -> str:
    """The A/A pair and other checks outside the α budget."""
    checks = [h for h in hyps if h.family == claims.CHECK]
    if not checks:
        return ""
    lines = ["\n## Checks of the machinery (outside the α budget)\n",
             "Two copies of one static mixture, identical but for independent training randomness (their own seed "
             "stream), paired by θ0 like every other arm and tested by the same code at α: the verdict should be "
             "inconclusive, and over many such pairs the p-value uniform. The copies share their mixture × θ0 "
             "interaction, so an A/A pair checks the pairing, the tests and the verdict rules and the seed-noise part "
             "of the model, not the θ0 term (that is what the fresh-θ0 replication, results/benchmarks/"
             "fresh_theta0.json, tests).\n"]
    table = hypothesis_display(checks, sims)
    return "\n".join(lines) + "\n" + common.markdown_table(table)


# %% [markdown]
# ## Write

# %%


def notes(data: claims.Data, hyps: list[claims.Hypothesis]) -> list[str]:
    spec = data.spec or {}
    alpha, sims = float(spec.get("alpha", inference.ALPHA)), spec.get("null_simulations", 2000)
    shares = claims.family_alpha(spec)
    rates = claims.familywise(hyps)
    order = ", then ".join(f"{f} ({share:.3g})" for f, share in shares.items())
    return [
        "Ours: the difference of the two arms' means over the θ0s they share, with its 95% interval: each θ0's "
        "runs averaged (seeds within θ0), the per-θ0 differences' own SD, θ0s − 1 df — each comparison against "
        "the mixture × θ0 interaction of its own cells, never a σ pooled over other mixtures (analysis/"
        "inference.py). Weight changes: the mixture's own θ0-level mean end − start against 0. A comparison on "
        "one θ0 is not testable. A list of reference arms (e.g. 'the lowest µALL', 'beats every heuristic') is an "
        "intersection-union test: its p is the largest of the pairwise ones, and the row shows the least "
        "favourable pair.",
        f"Verdicts: the families are tested in this fixed order, each by Holm's step-down procedure on two-sided "
        f"p-values with its share of α = {alpha:g}: {order}; a family whose hypotheses are all rejected passes "
        "its share on. So the chance that any hypothesis of this scorecard is wrongly held or contradicted is at "
        "most α. A rejected hypothesis is held in the paper's direction, else contradicted. Not rejected: "
        "'smaller than the paper's effect' when the one-sided bound at its Holm level lies below the paper's own "
        "difference; else inconclusive, with the minimal detectable effect MDE = (t_{1−level/2} + t₀.₈₀)·SE at "
        "the level it was tested at. A claim is held when all its hypotheses are.",
        "Best-of-k claims (the best arm differs between backbones) use a max-statistic permutation test "
        f"({spec.get('permutations', 2000)} shuffles of arm labels within each backbone × θ0 block of θ0 means, "
        f"seed {spec.get('seed', 0)}).",
        f"Chance of 'held': the share of {sims} simulated experiments without any mixture effect — the same cells, "
        "θ0s and seeds, each run drawn from the fitted REML variance components (θ0, mixture × θ0, seed; "
        "analysis/variance.py) with fresh θ0s and seeds, metrics independent — in which the same procedure "
        "calls the hypothesis (the claim: every hypothesis) held. Over the whole scorecard (families inside the "
        f"budget), some hypothesis was held in {fmt_rate(rates['any_held'], sims)} and some held or "
        f"contradicted in {fmt_rate(rates['any_rejected'], sims)} of them (at most α = {alpha:g} by design).",
        f"P(same verdict), new θ0s: the share of {sims} simulated reruns on fresh θ0s and seeds, drawn from the same "
        "components around the observed cell means (taken as true), in which the procedure reaches this verdict "
        "again.",
        "Reviewer: the θ0-level paired t computed by hand from the per-run values (seeds averaged within θ0, "
        "scipy's paired t over the θ0s both arms share); it equals ours for every two-arm comparison. Paper: the "
        "paper's difference from results/paper/*.csv for the runs' paper labels (billion-parameter models: "
        "compare directions, not levels).",
        *data.notes,
    ]


def render(data: claims.Data, hyps: list[claims.Hypothesis]) -> tuple[str, pd.DataFrame]:
    """The Markdown scorecard and its display frame of every hypothesis."""
    if data.spec is None:
        text = (f"No {claims.CLAIMS_FILE} in {data.exp / 'summary'}: this experiment declared no claims, so nothing "
                "is scored. Write it from the experiment's config with `python -m mos aggregate --out "
                f"{data.exp / 'summary'} --claims \"$(python -m mos config claims CONFIG)\"`.")
        return f"# Replication scorecard\n\n{text}\n", pd.DataFrame(columns=["Claim", "Verdict"])
    if not hyps:
        return ("# Replication scorecard\n\nclaims.json declares no claims: nothing is scored (declare them in the "
                "config's `claims:` section).\n", pd.DataFrame(columns=["Claim", "Verdict"]))
    sims = int(data.spec.get("null_simulations", 2000))
    top, every = display(hyps, sims)
    scored = [h for h in hyps if h.family != claims.CHECK]
    codes = pd.Series([h.code for h in scored])
    families = list(dict.fromkeys(h.family for h in scored))
    tally = (f"{len(top)} pre-declared claims, {len(scored)} hypotheses in {len(families)} famil"
             f"{'y' if len(families) == 1 else 'ies'} tested in order ({', '.join(families)}): "
             f"{(codes == claims.HELD).sum()} held, {(codes == claims.CONTRADICTED).sum()} contradicted, "
             f"{(codes == claims.SMALLER).sum()} smaller than the paper's effect, "
             f"{(codes == claims.INCONCLUSIVE).sum()} inconclusive, {(codes == claims.NOT_TESTABLE).sum()} not "
             "testable or not run.")
    md = ("# Replication scorecard\n\n" + tally + "\n\n## Verdict per claim\n\n" + common.markdown_table(top)
          + "\n## Every hypothesis\n\n" + common.markdown_table(every) + checks_section(hyps, sims)
          + "".join(f"\n{n}\n" for n in notes(data, hyps)))
    return md, every


def csv_frame(hyps: list[claims.Hypothesis]) -> pd.DataFrame:
    """Every hypothesis with its numbers, and its claim's verdict and chance pass rate."""
    rows = claims.hypothesis_rows(hyps)
    if rows.empty:
        return pd.DataFrame(columns=["claim", "scope", "verdict"])
    per_claim = claims.claim_rows(hyps).set_index("id")
    return rows.assign(claim_verdict=rows["id"].map(per_claim["verdict"]),
                       claim_chance_pass_rate=rows["id"].map(per_claim["chance_pass_rate"]))


def write_all(exp: Path) -> list[Path]:
    """Write tables/scorecard.md, scorecard.csv and scorecard.tex for one experiment folder."""
    data = claims.load(exp)
    hyps = claims.evaluate(data)
    md_text, every = render(data, hyps)
    md = Path(exp) / "tables" / "scorecard.md"
    atomic_write_text(md, md_text)
    caption = ("Replication scorecard: every pre-declared hypothesis, its difference with the 95% interval, "
               "the reviewer's θ0-level paired t, the paper's difference, two-sided p, Holm level, verdict, chance "
               "pass rate and P(same verdict) on new θ0s.")
    tex = common.latex_table(every, caption, "tab:scorecard")
    atomic_write_text(md.with_suffix(".tex"), tex.replace(
        r"\begin{tabular}{ll" + "r" * (len(every.columns) - 2) + "}",
        r"\begin{tabular}{p{3cm}lp{2.4cm}p{3cm}p{2.4cm}p{2.2cm}rrp{2cm}rr}"))
    return [md, common.write_frame_csv(csv_frame(hyps), md.with_suffix(".csv")), md.with_suffix(".tex")]


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
