"""Headroom: how much the best static mixture gains over the heuristics, and each method's regret.

    python analysis/headroom.py results/<exp>

Reads results/<exp>/summary/{runs,metrics}.csv and claims.json's `headroom` (the design's mixtures, the
optimum's mixture, the backbone and the metric). It refits the response surface of the metric over the
simplex from the design's runs (analysis/surface.py, the same fit that chose the optimum the run
trained: a Scheffé quadratic mixture model with θ0 blocks) and writes:

* the design and the fit (runs, θ0s, R², residual SD) and the predicted optimum with its 95% interval;
* the verified optimum: the trained optimum's own mean over its θ0s, beside the prediction;
* the headroom: the optimum minus each heuristic and minus the declared best heuristic of the backbone
  (claims.best_heuristic), each paired by θ0 with its 95% interval (analysis/inference.py), and the
  MDE of that comparison;
* every other mixture's regret: its mean minus the optimum's (paired over the θ0s they share), and its
  share of the headroom, (mixture − best heuristic) / (optimum − best heuristic) — 1 = all of it,
  0 = none, negative = below the heuristic — only where the headroom's interval excludes 0.

Writes results/<exp>/tables/headroom.{md,csv,tex} and figures/headroom.{png,pdf}: the design on a
projection of the simplex coloured by the metric, the heuristics, the optimum and every method's
average weights marked; the surface's prediction against each design mixture's observed mean; and the
fitted surface itself on the four slices of the simplex through its optimum (one dataset held at its
optimal weight, the other three varying), in the same colours.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference, surface, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"], "when": "headroom",
          "writes": ["tables/headroom.md", "tables/headroom.csv"]}  # figures/headroom.{png,pdf} beside, when declared

# %%


def weights_of(runs: pd.DataFrame, backbone: str, datasets: list[str]) -> pd.DataFrame:
    """mixture -> its runs' mean final weights (a learned mixture's end point; a static one's only weights)."""
    per_run = surface.run_weights(runs[runs["backbone"] == backbone], datasets)
    return per_run.groupby("mixture", sort=False)[datasets].mean()


def analyse(exp: Path) -> dict:
    """Everything the table and the figure show (see the module docstring)."""
    inputs = common.load_inputs(exp)
    spec = (inputs.claims or {}).get("headroom") or {}
    if "optimum" not in spec:  # no headroom experiment declared
        return {}
    backbone, metric, optimum = spec["backbone"], spec.get("metric", "mu_both"), spec["optimum"]
    per_run = values.metric_values(inputs.metrics, inputs.runs)[metric]
    per_run = per_run[per_run["backbone"] == backbone]
    runs = inputs.runs[inputs.runs["backbone"] == backbone]
    datasets = list(dict.fromkeys(k for w in runs["weights"].dropna() for k in json.loads(w)))
    W = surface.run_weights(runs, datasets)
    design = per_run[per_run["mixture"].isin(spec["design"])].merge(W, on=["backbone", "mixture", "seed"])
    fitted = surface.fit_surface(design, datasets)
    best = fitted.optimum()
    fit = inference.Fit(per_run, values.METRICS[metric][1], what=f"{exp.name} {metric}")
    heur = [h for h in surface.heuristics(inputs.runs, backbone) if fit.has(backbone, h)]
    declared = ((inputs.claims or {}).get("best_heuristic") or {}).get(backbone)
    mean_w = weights_of(inputs.runs, backbone, datasets)
    return {"spec": spec, "datasets": datasets, "surface": fitted, "predicted_weights": best, "fit": fit,
            "heuristics": heur, "declared": declared if declared in heur else None, "design": design,
            "mean_weights": mean_w, "metric": metric, "backbone": backbone, "optimum": optimum}


def reference_heuristic(a: dict) -> str | None:
    """The heuristic the headroom is measured from: the declared best of the backbone, else the first."""
    return a["declared"] or (a["heuristics"][0] if a["heuristics"] else None)


def outside_design(a: dict, ref: str | None) -> dict | None:
    """The headroom over `ref` on the θ0s where no design point ran (the heuristics, also design points, run on
    every θ0 and mostly shape the surface near their own weights). The optimum was chosen from the points'
    θ0s, so a mixture × θ0 interaction that flattered it there could inflate the headroom on them (the
    winner's curse); on the other θ0s both arms are fresh draws. None without such θ0s."""
    design, fit, b, opt = a.get("design"), a["fit"], a["backbone"], a["optimum"]
    if ref is None or design is None or "theta0" not in design.columns:
        return None
    points = design[~design["mixture"].isin(a.get("heuristics") or [])]  # the heuristics span every θ0
    used = set(points["theta0"].astype(str))
    rest = fit.frame[~fit.frame["theta0"].astype(str).isin(used)]
    if rest.empty:
        return None
    sub = inference.Fit(rest[[*inference.KEY, "theta0", "value"]], fit.scale, what=f"{fit.what} outside the design")
    if not (sub.has(b, opt) and sub.has(b, ref)):
        return None
    c = sub.compare(b, opt, ref)
    if not c.testable:
        return None
    return {"kind": "headroom_outside_design", "mixture": ref, "vs": opt, "effect": c.effect, "lo": c.lo,
            "hi": c.hi, "theta0s": c.n_a, "mde": c.mde, "share": math.nan, "declared": False}


def rows(a: dict) -> pd.DataFrame:
    """One row per comparison: the headroom against each heuristic, then each mixture's regret."""
    fit, b, opt = a["fit"], a["backbone"], a["optimum"]
    out = []
    if not fit.has(b, opt):
        return pd.DataFrame(out)
    ref = reference_heuristic(a)
    for h in a["heuristics"]:
        c = fit.compare(b, opt, h)
        out.append({"kind": "headroom", "mixture": h, "vs": opt, "effect": c.effect, "lo": c.lo, "hi": c.hi,
                    "theta0s": c.n_a, "mde": c.mde, "share": math.nan, "declared": h == ref})
    fresh = outside_design(a, ref)
    if fresh is not None:
        out.append(fresh)
    design = set(a["spec"]["design"])
    for m in dict.fromkeys(mm for bb, mm in fit.cells if bb == b):
        if m == opt or m in a["heuristics"] or m in design:
            continue
        out.append({"kind": "regret", "mixture": m, "vs": opt, **surface.regret(fit, b, m, opt, ref), "declared": False})
    return pd.DataFrame(out)


def notes(a: dict, table: pd.DataFrame) -> list[str]:
    s, w = a["surface"], a["predicted_weights"]
    se = float(s.se(w)[0])
    t = inference.t_crit(s.df)
    pred = float(s.predict(w)[0])
    verified = a["fit"].cell(a["backbone"], a["optimum"])
    weights = ", ".join(f"{d} {x:.3f}" for d, x in zip(a["datasets"], w, strict=True))
    header = values.METRICS[a["metric"]][0]
    out = [f"Design: {a['design']['mixture'].nunique()} static mixtures, {s.n} runs on {s.theta0s} θ0s; the "
           f"Scheffé quadratic surface (analysis/surface.py) explains R² = {s.r2:.2f} of their variation "
           f"(residual SD {s.sigma:.2f}, {s.df:.0f} df).",
           f"Predicted optimum: {weights}; predicted {header} {pred:.2f} [{pred - t * se:.2f}, {pred + t * se:.2f}]. "
           f"Verified: {a['optimum']} trained on {verified.n} θ0s gives {verified.mean:.2f} "
           f"[{verified.lo:.2f}, {verified.hi:.2f}].",
           "Headroom rows: the optimum minus each heuristic, paired by θ0 (95% interval, θ0s − 1 df; MDE at 80% "
           "power, two-sided 5%); the declared best heuristic of the backbone is marked. Regret rows: each other "
           "mixture minus the optimum over the θ0s they share; share of the headroom = (mixture − best "
           "heuristic) / (optimum − best heuristic), given only when the headroom's interval excludes 0.",
           "Headroom_outside_design: the optimum minus the declared best heuristic on the θ0s where none of the "
           "design's random or single-skill mixtures ran. The optimum was chosen from those points' θ0s, where a mixture × θ0 interaction that flattered it "
           "could inflate the headroom (the winner's curse); on the others both arms are fresh draws."]
    head = table[table["declared"]] if len(table) else table
    if len(head):
        h = head.iloc[0]
        if h["lo"] > 0:
            verdict = (f"The best static mixture beats the declared best heuristic ({h['mixture']}) by "
                       f"{common.fmt_signed(h['effect'], h['lo'], h['hi'])}")
        elif h["hi"] < 0:
            verdict = (f"The fitted optimum falls short of the declared best heuristic ({h['mixture']}): "
                       f"{common.fmt_signed(h['effect'], h['lo'], h['hi'])}; the surface's optimum did not verify")
        else:
            verdict = (f"The headroom over the declared best heuristic ({h['mixture']}) is inconclusive: "
                       f"{common.fmt_signed(h['effect'], h['lo'], h['hi'])} (MDE = {h['mde']:.2f})")
        out.insert(0, verdict + ".")
    return out


def display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Kind": table["kind"], "Mixture": table["mixture"] + np.where(table["declared"], " (declared best)", ""),
        "Δ [95% interval]": [common.fmt_signed(e, lo, hi) for e, lo, hi in
                             zip(table["effect"], table["lo"], table["hi"], strict=True)],
        "θ0s": table["theta0s"], "MDE": table["mde"].map(lambda v: common.fmt_number(v, 2)),
        "Share of the headroom": table["share"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}"),
    })


# %%


def projection(W: np.ndarray) -> np.ndarray:
    """2-D coordinates of 4-part weights: the tetrahedron's vertices on the corners of a square (first at the
    top left, then clockwise), so each point sits at the weighted mean of the corners."""
    corners = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])[:W.shape[1]]
    return W @ corners


TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])


def slice_through(w_star: np.ndarray, fixed: int, steps: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The simplex slice through `w_star` that holds dataset `fixed` at its weight: every mixture of the other
    datasets scaled to 1 − w_star[fixed], as weights (n × K) and their ternary coordinates (n × 2)."""
    K = len(w_star)
    others = [j for j in range(K) if j != fixed]
    bary = np.array([(i, j, steps - i - j) for i in range(steps + 1) for j in range(steps + 1 - i)], float) / steps
    W = np.zeros((len(bary), K))
    W[:, fixed] = w_star[fixed]
    W[:, others] = bary * (1.0 - w_star[fixed])
    return W, bary @ TRIANGLE


def slice_panels(fig, axes, a: dict, norm) -> None:
    """The fitted surface on the four slices through the predicted optimum (one dataset held at its weight)."""
    s, w_star, datasets = a["surface"], a["predicted_weights"], a["datasets"]
    for fixed, ax in enumerate(axes):
        W, P = slice_through(w_star, fixed)
        ax.tricontourf(P[:, 0], P[:, 1], s.predict(W), levels=20, cmap="viridis", norm=norm)
        others = [d for j, d in enumerate(datasets) if j != fixed]
        for (x, y), d in zip(TRIANGLE, others, strict=True):
            ax.annotate(d, (x, y), textcoords="offset points", xytext=(0, -10 if y == 0 else 4), ha="center", fontsize=7)
        rest = np.delete(w_star, fixed)
        x, y = (rest / rest.sum()) @ TRIANGLE if rest.sum() > 0 else TRIANGLE.mean(axis=0)
        ax.scatter([x], [y], marker="x", s=60, color="red")
        ax.set_title(f"fitted surface, {datasets[fixed]} held at {w_star[fixed]:.2f}", fontsize=8)
        ax.set_xlim(-0.15, 1.15), ax.set_ylim(-0.15, 1.0)
        ax.set_aspect("equal"), ax.set_axis_off()


def figure(a: dict, path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    design, datasets = a["design"], a["datasets"]
    means = design.groupby("mixture", sort=False).agg(value=("value", "mean"), **{d: (d, "first") for d in datasets})
    fig = plt.figure(figsize=(12, 9), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1.6, 1])
    left, right = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2:])
    slices = [fig.add_subplot(grid[1, k]) for k in range(min(4, len(datasets)))]
    P = projection(means[datasets].to_numpy())
    pred_all = a["surface"].predict(means[datasets].to_numpy())
    norm = matplotlib.colors.Normalize(min(means["value"].min(), pred_all.min()),
                                       max(means["value"].max(), pred_all.max(), a["surface"].predict(a["predicted_weights"])[0]))
    sc = left.scatter(P[:, 0], P[:, 1], c=means["value"], cmap="viridis", norm=norm, s=40, edgecolors="k",
                      linewidths=0.3)
    fig.colorbar(sc, ax=left, label=f"{values.METRICS[a['metric']][0]} (design mixtures, mean over θ0s)")
    for i, d in enumerate(datasets):
        x, y = projection(np.eye(len(datasets)))[i]
        left.annotate(d, (x, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    marks = a["mean_weights"]
    for m in marks.index:
        if m in set(a["spec"]["design"]) and m not in a["heuristics"]:
            continue
        x, y = projection(marks.loc[[m], datasets].to_numpy())[0]
        style = dict(marker="*", s=180, color="red") if m == a["optimum"] else \
            dict(marker="^", s=60, color="black") if m in a["heuristics"] else dict(marker="o", s=25, color="tab:orange")
        left.scatter([x], [y], zorder=3, **style)
        left.annotate(m, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=6)
    x, y = projection(a["predicted_weights"][None, :])[0]
    left.scatter([x], [y], marker="x", s=80, color="red", zorder=4)
    left.set_title("The design on the simplex (corners: one dataset alone)", fontsize=9)
    left.set_xticks([]), left.set_yticks([])
    pred = a["surface"].predict(means[datasets].to_numpy())
    right.scatter(pred, means["value"], s=20)
    lo, hi = min(pred.min(), means["value"].min()), max(pred.max(), means["value"].max())
    right.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
    right.set_xlabel("predicted by the surface"), right.set_ylabel("observed (mean over θ0s)")
    right.set_title("Fit of the quadratic mixture surface", fontsize=9)
    if len(datasets) == 4:
        slice_panels(fig, slices, a, norm)
    else:
        for ax in slices:
            ax.set_axis_off()
    png, pdf = path.with_suffix(".png"), path.with_suffix(".pdf")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=150), fig.savefig(pdf)
    plt.close(fig)
    return [png, pdf]


def write_all(exp: Path) -> list[Path]:
    """Write tables/headroom.{md,csv,tex} and figures/headroom.{png,pdf} for one experiment folder."""
    exp = Path(exp)
    stem, title = exp / "tables" / "headroom", "Headroom: the best static mixture and each method's regret"
    a = analyse(exp)
    if not a:
        empty = pd.DataFrame(columns=["Kind", "Mixture"])
        return common.write_table(empty, empty, stem, title, ["claims.json declares no headroom experiment."])
    table = rows(a)
    written = common.write_table(display(table), table, stem, title, notes(a, table))
    return [*written, *figure(a, exp / "figures" / "headroom")]


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
