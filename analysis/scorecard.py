"""Replication scorecard: the verdict on each pre-declared claim of the paper, with its chance pass rate.

    python analysis/scorecard.py results/<exp>

Reads results/<exp>/summary/claims.json (the config's `claims:` section: which arms each claim
compares, on which metric and backbones, in the paper's direction), the summary CSVs and the paper's
numbers in results/paper/*.csv, and tests every hypothesis with analysis/claims.py (the model:
analysis/inference.py). A hypothesis is "held" only when its one-sided interval excludes 0 in the
paper's direction after Holm's correction within its family (Holm-adjusted one-sided p ≤ α),
"contradicted" when the same holds the other way, else "inconclusive" with its minimal detectable
effect (80% power). Beside each: the reviewer's seed-level paired t interval, the paper's own
difference and the chance that the procedure calls the hypothesis "held" when no mixture has any
effect (simulated, Holm included, fixed seed). Writes results/<exp>/tables/scorecard.{md,csv,tex}.
Without claims.json it writes a scorecard that says how to produce it, and scores nothing.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import claims, common
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
    """The claim-level and hypothesis-level display frames."""
    per_claim = claims.claim_rows(hyps)
    top = pd.DataFrame({"Claim": per_claim["claim"], "Family": per_claim["family"], "Metric": per_claim["metric"],
                        "Verdict": per_claim["verdict"],
                        "Chance of 'held'": [fmt_rate(r, sims) for r in per_claim["chance_pass_rate"]]})
    rows = []
    for h in hyps:
        d = claims.digits(h.metric)
        rows.append({"Claim": h.claim["text"], "Scope": h.scope, "Arms": h.arms, "Ours: Δ [95% CI]": h.ours,
                     "Reviewer's paired t": claims.fmt_interval(h.reviewer, d) if h.reviewer else "–",
                     "Paper": h.paper or "n/a", "p": fmt_p(h.p), "p (Holm)": fmt_p(h.p_holm), "Verdict": h.verdict,
                     "Chance of 'held'": fmt_rate(h.chance, sims)})
    return top, pd.DataFrame(rows)


# %% [markdown]
# ## Write

# %%


def notes(data: claims.Data, hyps: list[claims.Hypothesis]) -> list[str]:
    spec = data.spec or {}
    alpha, sims = spec.get("alpha", 0.05), spec.get("null_simulations", 2000)
    pair = "paired by seed (blocks backbone × θ0 × seed)" if spec.get("pair_by_seed", True) else \
        "unpaired (blocks backbone × θ0)"
    fits = {m: f for m, f in data.fits.items() if m in claims.METRICS}
    sigma = "; ".join(f"{claims.METRICS[m][0]} σ = {f.sigma:.3g} ({f.df:.0f} df)" for m, f in fits.items())
    return [
        f"Ours: the difference of cell means with its 95% interval from analysis/inference.py — a least-squares "
        f"model over every cell of the experiment with one pooled σ, {pair}; {sigma}. Weight changes: the mean "
        "end − start of the sampling weight, against 0, with σ pooled over every learned mixture.",
        f"Verdicts: Holm's step-down correction within each family at α = {alpha} on one-sided p-values in the "
        "paper's direction (held) and, separately, in the other (contradicted); otherwise inconclusive, with the "
        "minimal detectable effect MDE = (t₀.₉₇₅ + t₀.₈₀)·SE of that comparison. A claim is held when all its "
        "hypotheses are. A list of reference arms (e.g. 'the lowest µALL') is an intersection-union test: its "
        "p is the largest of the pairwise ones, and the row shows the least favourable pair.",
        "Best-of-k claims (the best arm differs between backbones) use a max-statistic permutation test "
        f"({spec.get('permutations', 2000)} shuffles of arm labels within blocks, seed {spec.get('seed', 0)}): "
        "every arm must be beaten on some backbone (intersection-union over the arms); contradicted when one arm "
        "beats every rival on every backbone.",
        f"Chance of 'held': the share of {sims} simulated experiments without any mixture effect (standard normal "
        "values on this design, metrics independent; permutation tests with a tenth of the permutations) in "
        "which the same procedure, Holm included, calls the hypothesis (the claim: every hypothesis) held.",
        "Reviewer's paired t: the seed-level paired t interval over the seeds both arms share (n − 1 df), as "
        "computed by hand from summary/metrics.csv. Paper: the paper's difference from results/paper/*.csv for "
        "the runs' paper labels (billion-parameter models: compare directions, not levels).",
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
    verdicts = pd.Series([h.verdict.split(" (")[0] for h in hyps])
    families = list(dict.fromkeys(h.family for h in hyps))
    tally = (f"{len(top)} pre-declared claims, {len(hyps)} hypotheses in {len(families)} Holm "
             f"famil{'y' if len(families) == 1 else 'ies'} ({', '.join(families)}): {(verdicts == 'held').sum()} held, "
             f"{(verdicts == 'contradicted').sum()} contradicted, {(verdicts == 'inconclusive').sum()} inconclusive, "
             f"{(verdicts == 'n/a').sum()} not run.")
    md = ("# Replication scorecard\n\n" + tally + "\n\n## Verdict per claim\n\n" + common.markdown_table(top)
          + "\n## Every hypothesis\n\n" + common.markdown_table(every) + "".join(f"\n{n}\n" for n in notes(data, hyps)))
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
               "the reviewer's paired t, the paper's difference, Holm-adjusted p, verdict and chance pass rate.")
    tex = common.latex_table(every, caption, "tab:scorecard")
    atomic_write_text(md.with_suffix(".tex"), tex.replace(
        r"\begin{tabular}{ll" + "r" * (len(every.columns) - 2) + "}",
        r"\begin{tabular}{p{3cm}lp{2.4cm}p{3cm}p{2.4cm}p{2.2cm}rrp{2cm}r}"))
    return [md, common.write_frame_csv(csv_frame(hyps), md.with_suffix(".csv")), md.with_suffix(".tex")]


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
