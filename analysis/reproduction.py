"""How close a fresh run of the pipeline came to the committed snapshot of the same experiment.

    python analysis/reproduction.py results/default                       # vs snapshots/default
    python analysis/reproduction.py results/default --snapshot path/to/snapshot

`make run` ends with this table (`results/<exp>/tables/reproduction.{md,csv,tex}`). For every cell
(backbone × mixture) and headline metric (µMU, µMB, µBOTH) it gives the snapshot's mean, this run's
mean and their difference with its 95% interval (analysis/inference.py: both experiments in one fit,
each cell of each experiment an arm, paired by seed, σ pooled over every cell); how many runs gave
exactly the snapshot's number; and, per pre-declared claim (scorecard.csv of both), whether the
verdict is the same. Runs on the same machine (`mos.common.provenance.same_machine` on the `machine`
fingerprints of runs.csv) and commit are expected to match bit for bit; elsewhere only in distribution,
which the intervals judge (a cell whose interval excludes 0 moved more than seed noise explains), and
the notes say so in plain words. Without a snapshot the table
says so. Reads only the two folders' summary/ and tables/scorecard.csv.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference, values
from mos.common.provenance import same_machine

REPO = Path(__file__).resolve().parents[1]
METRICS = {key: values.METRICS[key] for key in values.HEADLINE}  # key -> (header, scale)
COLUMNS = ["backbone", "mixture", "metric", "snapshot", "rerun", "delta", "lo", "hi", "n_snapshot", "n_rerun",
           "identical_runs", "moved"]


# %%
def default_snapshot(exp: Path) -> Path:
    """snapshots/<experiment> of this checkout, for results/<experiment>."""
    return REPO / "snapshots" / Path(exp).name


def per_run(exp: Path) -> dict[str, pd.DataFrame]:
    """metric -> backbone, mixture, seed, value of every run of one experiment folder."""
    runs = common.load_runs(exp)
    found = values.metric_values(common.load_metrics(exp), runs)
    return {k: v[inference.KEY + ["value"]] for k, v in found.items() if k in METRICS}


def compare_metric(snapshot: pd.DataFrame, rerun: pd.DataFrame, scale: inference.Scale) -> pd.DataFrame:
    """One row per cell present in both: means, the difference rerun − snapshot with its interval."""
    both = pd.concat([snapshot.assign(source="snapshot"), rerun.assign(source="rerun")], ignore_index=True)
    shared = set(map(tuple, snapshot[["backbone", "mixture"]].drop_duplicates().to_numpy())) & set(
        map(tuple, rerun[["backbone", "mixture"]].drop_duplicates().to_numpy()))
    both = both[[(b, m) in shared for b, m in zip(both["backbone"], both["mixture"], strict=True)]]
    if both.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = both.assign(mixture=both["mixture"] + "@" + both["source"])
    fit = inference.Fit(frame[inference.KEY + ["value"]], scale=scale, pair_by_seed=True)
    exact = snapshot.merge(rerun, on=inference.KEY, suffixes=("_s", "_r"))
    rows = []
    for backbone, mixture in sorted(shared, key=lambda c: (list(both["backbone"]).index(c[0]),
                                                           list(both["mixture"]).index(c[1]))):
        c = fit.compare(backbone, f"{mixture}@rerun", f"{mixture}@snapshot")
        same = exact[(exact["backbone"] == backbone) & (exact["mixture"] == mixture)]
        s = snapshot[(snapshot["backbone"] == backbone) & (snapshot["mixture"] == mixture)]["value"]
        r = rerun[(rerun["backbone"] == backbone) & (rerun["mixture"] == mixture)]["value"]
        rows.append({"backbone": backbone, "mixture": mixture, "snapshot": s.mean(), "rerun": r.mean(),
                     "delta": c.effect, "lo": c.lo, "hi": c.hi, "n_snapshot": len(s), "n_rerun": len(r),
                     "identical_runs": int((same["value_s"] == same["value_r"]).sum()),
                     "moved": bool(c.excludes_zero)})
    return pd.DataFrame(rows)


def compare(exp: Path, snapshot: Path) -> pd.DataFrame:
    """Every cell × headline metric of the two experiments (COLUMNS)."""
    ours, theirs = per_run(exp), per_run(snapshot)
    parts = [compare_metric(theirs[key], ours[key], METRICS[key][1]).assign(metric=METRICS[key][0])
             for key in METRICS if key in ours and key in theirs]
    return pd.concat(parts, ignore_index=True)[COLUMNS] if parts else pd.DataFrame(columns=COLUMNS)


def verdicts(exp: Path, snapshot: Path) -> pd.DataFrame:
    """claim, backbone, the two verdicts and whether they agree (from both scorecard.csv files; none when
    either is absent or scores no claim)."""
    frames = []
    for name, folder in (("rerun", exp), ("snapshot", snapshot)):
        path = Path(folder) / "tables" / "scorecard.csv"
        df = pd.read_csv(path) if path.is_file() else None
        if df is None or "id" not in df.columns:  # no claims.json, or it declares none (config/real.yaml)
            return pd.DataFrame(columns=["claim", "scope", "rerun", "snapshot", "same"])
        frames.append(df[["id", "scope", "claim", "verdict"]].rename(columns={"verdict": name, "claim": f"claim_{name}"})
                      .set_index(["id", "scope"]))
    out = frames[0].join(frames[1], how="outer").reset_index()
    out["claim"] = out["claim_rerun"].fillna(out["claim_snapshot"])
    out["same"] = out["rerun"].astype(str).str.split(" ").str[0] == out["snapshot"].astype(str).str.split(" ").str[0]
    return out


def machines(exp: Path) -> set[str]:
    runs = common.load_runs(exp)
    return set(runs["machine"].dropna().astype(str)) if "machine" in runs.columns else set()


def commits(exp: Path) -> set[str]:
    runs = common.load_runs(exp)
    return set(runs["git_commit"].dropna().astype(str)) if "git_commit" in runs.columns else set()


# %%
def display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Backbone": table["backbone"], "Mixture": table["mixture"], "Metric": table["metric"],
        "Snapshot": table["snapshot"].map(common.fmt_number), "This run": table["rerun"].map(common.fmt_number),
        "Δ [95% interval]": [common.fmt_signed(d, lo, hi) for d, lo, hi in
                             zip(table["delta"], table["lo"], table["hi"], strict=True)],
        "Runs identical": [f"{i} of {min(a, b)}" for i, a, b in
                           zip(table["identical_runs"], table["n_snapshot"], table["n_rerun"], strict=True)],
        "Beyond noise": table["moved"].map({True: "yes", False: "no"}),
    })


def same_arithmetic(exp: Path, snapshot: Path) -> bool:
    """Whether every run of both experiments has one and the same machine fingerprint
    (mos.common.provenance.same_machine: the one definition of "the same machine")."""
    ours, theirs = machines(exp), machines(snapshot)
    return len(ours) == 1 and len(theirs) == 1 and same_machine(next(iter(ours)), next(iter(theirs)))


def summary_notes(table: pd.DataFrame, votes: pd.DataFrame, exp: Path, snapshot: Path) -> list[str]:
    """The table's notes: which machines, what was expected, and what carried over, in plain words."""
    notes = []
    same_machine_ = same_arithmetic(exp, snapshot)
    same_commit = bool(commits(exp)) and commits(exp) == commits(snapshot)
    notes.append(f"This run: {', '.join(sorted(machines(exp))) or 'machine not recorded'}; snapshot: "
                 f"{', '.join(sorted(machines(snapshot))) or 'machine not recorded'}. Same machine: "
                 f"{'yes' if same_machine_ else 'no'}; same commit: {'yes' if same_commit else 'no'}.")
    if same_machine_ and same_commit:
        notes.append("Expected: every run bit-identical to the snapshot's (same commit, same machine fingerprint). "
                     "A run that differs means something outside the recorded inputs changed.")
    else:
        notes.append("Expected: no run identical to the snapshot's. " + (
            "Another machine (another CPU, instruction set, torch build, thread count or arithmetic setting) "
            if not same_machine_ else "Another commit ") +
            "rounds differently, and tiny models turn last-bit differences into different runs within tens of "
            "steps. What carries over is the distribution: each cell's mean should move by no more than its "
            "interval allows, and each pre-declared claim should reach the same verdict.")
    for metric, part in table.groupby("metric", sort=False):
        runs = int(part[["n_snapshot", "n_rerun"]].min(axis=1).sum())
        moved = part[part["moved"]]
        testable = part[part["lo"].notna()]
        untestable = len(part) - len(testable)
        notes.append(f"{metric}: {len(testable) - len(moved)} of {len(testable)} cell means within seed-and-θ0 "
                     f"noise of the snapshot's (the 95% interval of Δ, paired by θ0, includes 0)"
                     + (f"; {untestable} cell(s) on one θ0 have no interval" if untestable else "") +
                     (f"; beyond it: {', '.join(moved['backbone'] + ' ' + moved['mixture'])}" if len(moved) else "") +
                     f". |Δ| of the cell means: median {np.median(part['delta'].abs()):.2f}, max "
                     f"{part['delta'].abs().max():.2f}. {int(part['identical_runs'].sum())} of {runs} runs gave "
                     "exactly the snapshot's value.")
    if len(votes):
        agree = int(votes["same"].sum())
        notes.append(f"Verdicts of the pre-declared claims: {agree} of {len(votes)} the same as the snapshot's.")
    return notes


def write_all(exp: Path, snapshot: Path | None = None) -> list[Path]:
    snapshot = Path(snapshot) if snapshot else default_snapshot(exp)
    stem = Path(exp) / "tables" / "reproduction"
    if not (snapshot / "summary").is_dir():
        empty = pd.DataFrame(columns=COLUMNS)
        return common.write_table(display(empty), empty, stem, "Reproduction of the committed snapshot",
                                  [f"No committed snapshot at {snapshot}: nothing to compare with."])
    table, votes = compare(exp, snapshot), verdicts(exp, snapshot)
    notes = summary_notes(table, votes, exp, snapshot)
    if len(votes):
        notes.append("Claims whose verdict differs: " + ("; ".join(
            f"{r.claim}, {r.scope} ({r.rerun} here, {r.snapshot} in the snapshot)"
            for r in votes[~votes["same"]].itertuples())
            or "none") + ".")
    return common.write_table(display(table), table, stem, f"Reproduction of {snapshot.name} (this run − snapshot)",
                              notes)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(
        write_all, snapshot="the snapshot to compare with (default: snapshots/<exp> of this checkout)"))
