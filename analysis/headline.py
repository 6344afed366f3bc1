"""The README's results text, generated from the tables: results/<exp>/tables/headline.md.

    python analysis/headline.py results/<exp>
    python analysis/headline.py snapshots/default --readme README.md   # also rewrite the README's marked section

Reads the tables the other scripts wrote (tables/table2_main_*.csv, table2_skills_*.csv, scorecard.csv,
power.csv, fig2_final_weights.csv, fig4_final_weights.csv, table5_mospec.csv, winrate.csv,
table6_ppl.csv) and summary/claims.json, and writes the headline results as Markdown: Table 2 in
µBOTH with intervals, the verdicts on the pre-declared claims, the precision of the design, and one
line per finding, every number taken from a table and every difference with its interval
("inconclusive" with the minimal detectable effect when the interval includes 0). The README shows
this text between `<!-- results:begin -->` and `<!-- results:end -->`; tests/test_readme_results.py
fails when the numbers there differ from the generated ones. A table that is absent leaves its line
out. A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis import common, values
from mos.common.io import atomic_write_text

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py): the
# tables of the scripts it reads must be written first.
SCRIPT = {"reads": ["runs.csv", "claims.json", "table2_main", "table5_mospec", "table6_ppl", "winrate",
                    "table_transfer", "fig2_weights", "fig4_mospec_weights", "scorecard", "power",
                    "leaderboard", "headroom"],
          "writes": ["tables/headline.md"]}
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"  # the default experiment's section


def markers(experiment: str = "default") -> tuple[str, str]:
    """The README markers around an experiment's headline (the default's: BEGIN, END)."""
    if experiment == "default":
        return BEGIN, END
    return f"<!-- results {experiment}:begin -->", f"<!-- results {experiment}:end -->"
HEURISTIC_KEYS = ("prop", "temp", "uni")  # paper labels of the static heuristics start with these
STATIC_STRATEGIES = ("temperature", "temperature_heldout", "fixed", "dirichlet", "surface_optimum")  # not learned
MC = "testbed_mc"

# %%


def read(exp: Path, name: str) -> pd.DataFrame | None:
    path = Path(exp) / "tables" / f"{name}.csv"
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.is_file() else None


def iv(mean: float, lo: float = math.nan, hi: float = math.nan, digits: int = 2) -> str:
    """'+1.20 [−0.50, +2.90]'."""
    return common.fmt_signed(mean, lo, hi, digits)


def span(values: pd.Series, fmt: Callable[[float], str]) -> str:
    """'a–b' over the values (one value when they agree at display precision)."""
    lo, hi = fmt(values.min()), fmt(values.max())
    return lo if lo == hi else f"{lo} to {hi}"


def sci(value: float) -> str:
    """A large number as '1.7·10^5'."""
    if value < 1000:
        return f"{value:.3g}"
    exponent = math.floor(math.log10(value))
    return f"{value / 10 ** exponent:.1f}·10^{exponent}"


def mde_text(mde: pd.Series) -> str:
    """' (MDE = x)' with the largest MDE, or ' (no interval: one θ0)' when there is none."""
    return f" (MDE = {mde.max():.2f})" if mde.notna().any() else " (no interval: one θ0 per cell)"


def is_heuristic(label: str) -> bool:
    return common.label_key(label).startswith(HEURISTIC_KEYS)


# %% [markdown]
# ## Each part of the headline

# %%


def table2_part(t2: pd.DataFrame) -> list[str]:
    """Table 2 in µBOTH [interval] / µMU / µMB for the mixtures every backbone ran."""
    backbones = list(dict.fromkeys(t2["backbone"]))
    shared = [m for m in dict.fromkeys(t2["mixture"]) if (t2["mixture"] == m).sum() == len(backbones)]
    seeds = sorted(set(t2["n_seeds"]))
    lines = [f"Table 2 as µBOTH [95% interval over θ0s] over {'/'.join(map(str, seeds))} θ0{'s' * (seeds != [1])} / µMU "
             "(testbed MC, %) / µMB "
             "(testbed two-turn prompts graded 1–10 by the reference judge), `tables/table2_main_testbed_mc.md`:", "",
             "| Mixture | " + " | ".join(backbones) + " |", "|---|" + "---|" * len(backbones)]
    beyond = False  # a row without a paper label (a method beyond the paper) is marked †
    for m in shared:
        rows = t2[t2["mixture"] == m].set_index("backbone")
        paper = rows["paper_method"].iloc[0]
        label = paper if isinstance(paper, str) and paper else f"{m} †"
        beyond = beyond or label.endswith("†")
        cells = [f"{common.fmt_interval(r.mu_both_mean, r.mu_both_lo, r.mu_both_hi, 1)} / {r.mu_mmlu_mean:.1f} / "
                 f"{r.mu_mtbench_mean:.2f}" for _, r in rows.loc[backbones].iterrows()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if beyond:
        lines += ["", "† beyond the paper (no row of its Table 2)."]
    return [*lines, ""]


def verdict_part(score: pd.DataFrame) -> str:
    """The tally of verdicts and the verdict on each primary claim (the check family apart)."""
    scored = score[score["family"] != "check"]
    kinds = scored["verdict"].str.split(" \\(").str[0]
    families = list(dict.fromkeys(scored["family"]))
    primary = scored[scored["family"] == families[0]].drop_duplicates("id")
    items = "; ".join(f"{r.claim}: {r.claim_verdict}" for r in primary.itertuples())
    untestable = kinds.str.startswith("not testable") | (kinds == "n/a")
    return (f"- **Pre-declared claims** (`scorecard.md`; config `claims:`; θ0 the unit of replication; families "
            f"tested in order, each by Holm on two-sided p with its share of α = 0.05): of {len(scored)} hypotheses "
            f"in {scored['id'].nunique()} claims, {(kinds == 'held').sum()} held, {(kinds == 'contradicted').sum()} "
            f"contradicted, {(kinds == 'smaller than the paper' + chr(39) + 's effect').sum()} smaller than the "
            f"paper's effect, {(kinds == 'inconclusive').sum()} inconclusive, {untestable.sum()} not testable. The "
            f"{families[0]} claims: {items}. Each claim's simulated chance of passing without any mixture effect is "
            f"printed beside it (at most {100 * scored['claim_chance_pass_rate'].max():.1f}% here).")


def aa_part(score: pd.DataFrame) -> str | None:
    """The A/A check's verdict and p-value (family check)."""
    checks = score[score["family"] == "check"]
    if checks.empty:
        return None
    items = "; ".join(f"{r.claim}: Δ = {iv(r.effect, r.ci_lo, r.ci_hi)}, two-sided p = {r.p:.2f}, {r.verdict}"
                      for r in checks.itertuples())
    return (f"- **A/A check** (`scorecard.md`, outside the α budget): {items}. The two copies share their "
            "mixture × θ0 interaction, so this checks the pairing, the tests and the seed noise, not the θ0 term.")


def precision_part(pw: pd.DataFrame, spec: dict) -> str:
    return f"- **Precision** (`power.md`): {common.precision_sentence(pw, spec)}"


def learned_mixtures(exp: Path) -> set[str] | None:
    """The mixtures whose weights a method decides, from runs.csv: not a static temperature (held-out references
    included), fixed weights, a random design point or the headroom's fitted optimum."""
    try:
        runs = common.load_runs(exp)
    except (FileNotFoundError, ValueError):
        return None
    if "strategy" not in runs.columns:
        return None
    return set(runs.loc[~runs["strategy"].isin(STATIC_STRATEGIES), "mixture"])


def versus_best_part(t2: pd.DataFrame, learned: set[str] | None = None) -> str | None:
    """Learned rows against the best heuristic declared for each backbone (µBOTH), with intervals."""
    rows = t2[(t2["best_arm"].fillna("") != "") & t2["delta_best_mean"].notna()
              & ~t2["paper_method"].fillna("").map(is_heuristic)]
    if learned is not None:
        rows = rows[rows["mixture"].isin(learned)]
    if rows.empty:
        return None
    above, below = rows[rows["delta_best_lo"] > 0], rows[rows["delta_best_hi"] < 0]
    listing = "; ".join(f"{r.backbone} {r.mixture} {iv(r.delta_best_mean, r.delta_best_lo, r.delta_best_hi)}"
                        for r in pd.concat([above, below]).itertuples())
    return (f"- **Learned mixtures vs the declared best heuristic** (µBOTH, `table2_main_testbed_mc.md`, 95% "
            f"intervals not corrected for multiplicity): of {len(rows)} rows, {len(above)} above and {len(below)} "
            f"below with the interval excluding 0" + (f" ({listing})" if listing else "")
            + f"; the other {len(rows) - len(above) - len(below)} inconclusive{mde_text(rows['mde'])}.")


def skills_part(sk: pd.DataFrame, t2: pd.DataFrame) -> str | None:
    """Per-skill accuracy of the static heuristics, and whether their intervals overlap."""
    labels = t2.drop_duplicates("mixture").set_index("mixture")["paper_method"]
    heur = [m for m in dict.fromkeys(sk["mixture"]) if is_heuristic(labels.get(m, ""))]
    skills = [c[len("skill_"):-len("_mean")] for c in sk.columns if c.startswith("skill_") and c.endswith("_mean")]
    names = {s.lower(): s for s in values.SKILL_ORDER}
    if len(heur) < 2 or not skills:
        return None
    parts = []
    for m in heur:
        rows = sk[sk["mixture"] == m]
        parts.append(f"{labels[m]} " + ", ".join(f"{names.get(s, s)} {span(rows[f'skill_{s}_mean'], '{:.0f}'.format)}"
                                                 for s in skills))
    first, last = heur[0], heur[-1]
    apart = [names.get(s, s) for s in skills if all(
        a[f"skill_{s}_hi"] < b[f"skill_{s}_lo"] or b[f"skill_{s}_hi"] < a[f"skill_{s}_lo"]
        for (_, a), (_, b) in zip(sk[sk["mixture"] == first].iterrows(), sk[sk["mixture"] == last].iterrows(),
                                  strict=True))]
    return (f"- **The mixture decides each skill** (`table2_skills_testbed_mc.md`, %, range over backbones): "
            f"{'; '.join(parts)}. {labels[first]} and {labels[last]} have disjoint 95% intervals on every backbone "
            f"for {', '.join(apart) if apart else 'no skill'}.")


def weights_part(tables: list[pd.DataFrame]) -> str | None:
    """End − start of each dataset's weight per method, over backbones, with the paper's change beside."""
    parts = []
    for table in tables:
        for method, rows in table.groupby("paper_method", sort=False):
            if not method.endswith("EMA") or "prior" in method:
                continue
            datasets = list(dict.fromkeys(rows["dataset"]))
            clear = ((rows["change_lo"] > 0) | (rows["change_hi"] < 0)).sum()
            ours = ", ".join(f"{d} {span(rows.loc[rows['dataset'] == d, 'change_mean'], lambda v: iv(v, digits=3))}"
                             for d in datasets)
            paper = rows.dropna(subset=["paper_change"]).drop_duplicates("dataset")
            theirs = ", ".join(f"{d} {iv(v, digits=3)}" for d, v in zip(paper["dataset"],
                                                                                     paper["paper_change"], strict=True))
            parts.append(f"{method}: {ours} ({clear} of {len(rows)} intervals exclude 0"
                         + (f"; the paper: {theirs}" if theirs else "") + ")")
    if not parts:
        return None
    return ("- **Learned weights** (end − start of training, range over backbones, `fig2_final_weights.md`, "
            "`fig4_final_weights.md`): " + "; ".join(parts) + ".")


def mospec_part(t5: pd.DataFrame) -> str | None:
    rows = t5[t5["delta_math_only_mean"].notna()]
    if rows.empty:
        return None
    ref = t5[t5["paper_row"] == "MATH<backbone>"]
    paper_ref = ref["paper_mu_all"].iloc[0] if len(ref) else math.nan
    spec = rows[rows["model"].str.startswith("MoSpec")]
    ours = "; ".join(f"{r.model} {iv(r.delta_math_only_mean, r.delta_math_only_lo, r.delta_math_only_hi)} "
                     f"(the paper: {iv(r.paper_mu_all - paper_ref)})" for r in spec.itertuples())
    below = int((spec["delta_math_only_hi"] < 0).sum())
    above = int((spec["delta_math_only_lo"] > 0).sum())
    return (f"- **MoSpec vs the math-only model** (`table5_mospec.md`, µALL − math-only, points): {ours}: "
            f"{above} of {len(spec)} above with the interval excluding 0, {below} below, "
            f"{len(spec) - above - below} inconclusive.")


def transfer_part(tm: pd.DataFrame | None) -> str | None:
    """What each skill trained alone gives on Mathematics (MoSpec's target), from transfer_matrix.csv."""
    if tm is None or tm.empty or "mc_Mathematics_mean" not in tm.columns or not tm["single"].any():
        return None
    single = tm[tm["single"]]
    cells = [f"{r.trained_on} {common.fmt_interval(r.mc_Mathematics_mean, r.mc_Mathematics_lo, r.mc_Mathematics_hi, 1)}"
             for r in single.itertuples()]
    skill_of = {label: label.removesuffix(" only") for label in single["trained_on"]}
    own = "; ".join(f"{label} {row[f'mc_{skill}_mean']:.1f}" for label, row in single.set_index("trained_on").iterrows()
                    if f"mc_{(skill := skill_of[label])}_mean" in tm.columns)
    return (f"- **Transfer** (`transfer_matrix.md`, {', '.join(dict.fromkeys(single['backbone']))}, each skill "
            f"trained alone at the same budget; testbed MC accuracy, %): on Mathematics {'; '.join(cells)} (chance "
            f"≈ 25). On its own skill: {own}.")


def leaderboard_part(lb: pd.DataFrame | None) -> str | None:
    """Every method against PROP.: how many rows the interval separates, and the top row per backbone."""
    if lb is None or lb.empty or "delta" not in lb.columns:
        return None
    rows = lb[lb["mixture"] != lb["baseline"]]
    above, below = rows[rows["delta_lo"] > 0], rows[rows["delta_hi"] < 0]
    best = rows.sort_values("rank").groupby("backbone", sort=False).head(1)
    tops = "; ".join(f"{r.backbone}: {r.mixture} {iv(r.delta, r.delta_lo, r.delta_hi)}" for r in best.itertuples())
    beyond = rows[rows["beyond_paper"].astype(str) == "True"]
    clear_beyond = beyond[(beyond["delta_lo"] > 0) | (beyond["delta_hi"] < 0)]
    return (f"- **Leaderboard** (`leaderboard.md`, µBOTH − {rows['baseline'].iloc[0]} at equal budget, 95% intervals "
            f"not corrected for multiplicity): {len(above)} of {len(rows)} method × backbone rows above with the "
            f"interval excluding 0, {len(below)} below, the rest inconclusive{mde_text(rows['mde'])}. Rank 1 per "
            f"backbone: {tops}."
            + (f" The field's methods (beyond the paper): {len(clear_beyond)} of {len(beyond)} rows separated from "
               "it." if len(beyond) else ""))


def end_of_claim(row: pd.Series) -> str:
    """' (inconclusive).' when the row's interval includes 0, else '.'."""
    return " (inconclusive)." if row["lo"] <= 0 <= row["hi"] else "."


def iv_called(row: pd.Series) -> str:
    """'+1.20 [−0.50, +2.90] (inconclusive).' or '+1.20 [+0.50, +2.90].'"""
    return iv(row["effect"], row["lo"], row["hi"]) + end_of_claim(row)


def headroom_part(hr: pd.DataFrame | None, pw: pd.DataFrame | None) -> str | None:
    """The headroom over the declared best heuristic (and over the heuristic that did best, where that differs: the
    smaller headroom is the one judged), set against the MDE of a primary comparison: the largest µBOTH MDE (at
    its Holm level) of the experiment's own primary comparisons, which pair arms over the same θ0s."""
    if hr is None or hr.empty or "kind" not in hr.columns:
        return None
    head = hr[(hr["kind"] == "headroom") & (hr["declared"].astype(str) == "True")]
    if head.empty:
        return None
    h = head.iloc[0]
    text = (f"- **Headroom** (`headroom.md`): the fitted best static mixture minus {h['mixture']} (the declared "
            f"best heuristic) is {iv(h['effect'], h['lo'], h['hi'])} µBOTH over {h['theta0s']:.0f} θ0s"
            + end_of_claim(h))
    fresh = hr[hr["kind"] == "headroom_outside_design"]
    if len(fresh):
        f = fresh.iloc[0]
        text += f" On the {f['theta0s']:.0f} θ0s the design did not choose it on: {iv_called(f)}"
    heads = hr[hr["kind"] == "headroom"]
    least = heads.loc[heads["effect"].astype(float).idxmin()]
    if least["mixture"] != h["mixture"]:  # the declared best was not the best measured: the smaller headroom counts
        text += (f" Over {least['mixture']}, the heuristic that did best here (not the one declared before the run), "
                 f"the headroom is {iv_called(least)}")
        h = least
    both = pw[pw["metric"] == "µBOTH"] if pw is not None and "mde" in pw.columns else None
    if both is not None and len(both) and both["mde"].notna().any():
        mde = float(both["mde"].max())
        if h["hi"] < mde:
            text += (f" Even its upper bound is below the MDE of a primary comparison ({mde:.2f} µBOTH): no mixture, "
                     "static or learned, can gain enough over the heuristics here for the bench to detect it, so every "
                     "learned-mixer verdict on this testbed is bounded by the headroom, not by the method; an "
                     "'inconclusive' says nothing about the method.")
        elif h["effect"] < mde:
            text += (f" Its estimate is below the MDE of a primary comparison ({mde:.2f} µBOTH) and its interval "
                     "reaches it: a learned mixer that took all of the headroom would at best be detected "
                     "sometimes, so 'inconclusive' verdicts here are expected even of a perfect mixer.")
        else:
            text += (f" That exceeds the MDE of a primary comparison ({mde:.2f} µBOTH): a mixer that took most of "
                     "the headroom would be detected.")
    regret = hr[hr["kind"] == "regret"]
    if len(regret):
        listing = "; ".join(f"{r.mixture} {iv(r.effect, r.lo, r.hi)}" for r in regret.itertuples())
        text += f" Each method minus the optimum (regret, µBOTH): {listing}."
    return text


def theta0_part(t6: pd.DataFrame | None) -> str | None:
    if t6 is None or t6.empty or "ppl_base" not in t6.columns:
        return None
    med = t6.groupby("backbone", sort=False)["ppl_base"].median()
    paper = t6["paper_ppl_base"].dropna()
    inside = bool(((t6["ppl_base"] >= 2) & (t6["ppl_base"] <= 100)).all())
    text = ("- **θ0's perplexities** (`table6_ppl.md`): the median response perplexity of θ0 over the training "
            "datasets is " + ", ".join(f"{sci(v)} ({b})" for b, v in med.items())
            + (f" (the paper's θ0: {paper.min():.3g} to {paper.max():.3g})" if len(paper) else "")
            + f"; after PROP. fine-tuning Δ = PPL_θ / PPL_θ0 is {t6['ratio_mean'].min():.2g} to "
            f"{t6['ratio_mean'].max():.2g} (the paper: {t6['paper_ratio'].min():.2g} to {t6['paper_ratio'].max():.2g}).")
    if not inside:
        text += (" Some dataset's θ0 perplexity is outside 2-100, where DIFF ranks datasets by θ0's ignorance "
                 "rather than by what fine-tuning learns.")
    return text


def winrate_part(wr: pd.DataFrame) -> str | None:
    if wr is None or wr.empty or "delta_mean" not in wr.columns:
        return None
    clear = wr[(wr["delta_lo"] > 0) | (wr["delta_hi"] < 0)]
    listing = "; ".join(f"{r.backbone} {r.mixture} {iv(r.delta_mean, r.delta_lo, r.delta_hi)}" for r in clear.itertuples())
    return (f"- **Win rates** against {wr['reference'].iloc[0]} (`winrate.md`, win rate − 50 in points, 95% intervals "
            f"not corrected for multiplicity): {len(clear)} of {len(wr)} rows exclude 0"
            + (f" ({listing})" if listing else "") + f"; the rest inconclusive{mde_text(wr['mde'])}.")


def build(exp: Path) -> str:
    """The headline Markdown of one experiment."""
    t2, sk = read(exp, f"table2_main_{MC}"), read(exp, f"table2_skills_{MC}")
    score, pw = read(exp, "scorecard"), read(exp, "power")
    spec = common.load_claims(exp) or {}
    lines = [f"<!-- generated by `python -m analysis results/{Path(exp).name}` (analysis/headline.py) from its "
             "tables: edit the code, not this text -->", ""]
    if t2 is not None and "mu_both_mean" in t2.columns and not (spec.get("headroom") or {}).get("optimum"):
        lines += table2_part(t2)  # a headroom experiment's rows are mostly design points: headroom.md has them
    bullets = [
        verdict_part(score) if score is not None and "claim_verdict" in score.columns and len(score) else None,
        aa_part(score) if score is not None and "family" in score.columns and len(score) else None,
        precision_part(pw, spec) if pw is not None and "sd_d" in pw.columns and len(pw) else None,
        headroom_part(read(exp, "headroom"), pw),
        versus_best_part(t2, learned_mixtures(exp)) if t2 is not None and "delta_best_mean" in t2.columns else None,
        skills_part(sk, t2) if sk is not None and t2 is not None else None,
        weights_part([t for t in (read(exp, "fig2_final_weights"), read(exp, "fig4_final_weights"))
                      if t is not None and len(t)]),
        mospec_part(t5) if (t5 := read(exp, "table5_mospec")) is not None and "delta_math_only_mean" in t5.columns
        else None,
        transfer_part(read(exp, "transfer_matrix")),
        leaderboard_part(read(exp, "leaderboard")),
        winrate_part(read(exp, "winrate")),
        theta0_part(read(exp, "table6_ppl")),
    ]
    return "\n".join([*lines, *[b for b in bullets if b]]) + "\n"


def readme_section(readme: str, experiment: str = "default") -> str:
    """The text between an experiment's results markers in a README (an error naming what is missing)."""
    begin, end = markers(experiment)
    match = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), readme, re.S)
    if match is None:
        raise ValueError(f"README: no section between {begin} and {end}")
    return match.group(1)


def update_readme(path: Path, text: str, experiment: str = "default") -> None:
    """Replace the README's marked section of `experiment` by `text`."""
    readme = Path(path).read_text(encoding="utf-8")
    old = readme_section(readme, experiment)
    begin, end = markers(experiment)
    atomic_write_text(path, readme.replace(begin + "\n" + old + end, begin + "\n" + text + end, 1))


def write_all(exp: Path, readme: Path | None = None) -> list[Path]:
    """Write tables/headline.md for one experiment folder (after the other scripts), and into the marked
    section of `readme` when given."""
    path = Path(exp) / "tables" / "headline.md"
    text = build(exp)
    atomic_write_text(path, text)
    if readme is None:
        return [path]
    update_readme(readme, text, Path(exp).name)  # the folder is named after the experiment
    return [path, Path(readme)]


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all, readme="also write the text into this README's marked section"))
