"""Rerun the primary comparisons on fresh pretrained backbones θ0 and check the verdicts' error rate on the
bench itself: does each new difference fall inside the original interval, and does the verdict repeat?

    python scripts/fresh_theta0.py                          # vs snapshots/default -> results/benchmarks/fresh_theta0.json
    python scripts/fresh_theta0.py --original results/default --offset 100 --cores 2

It writes a copy of config/config.yaml as the experiment `fresh_theta0` with the pretraining seeds moved
by `--offset` (θ0s 100-111 instead of 0-11: pretrained anew, disjoint from the original's), the grid cut to
the primary arms (and the A/A copy) on the same run seeds, and the claims cut to the primary family and the
checks; runs it with `snakemake --cores N --configfile <that copy>` (everything lands in
results/fresh_theta0/), and compares its scorecard with the original's hypothesis by hypothesis: the new
Δ, whether it lies inside the original 95% interval, the new verdict and whether it is the original's.
This is the question a reviewer asks of every mixing paper — would it hold on another pretrained model? —
and the direct test of the θ0 term of the model (analysis/inference.py). With a correct model about 95%
of the new differences fall inside the original intervals (in expectation: the two estimates are
independent, so the coverage of a new estimate by an old 95% interval is below 95% by design; the report
gives the expected rate under the model beside the observed one).

It also pools: for every pair of arms the fresh run compared, the θ0-level paired-t 95% half-width (seeds
averaged within θ0, t with n_θ0 − 1 df) on the original's θ0s, on the fresh ones and on both together, in
µBOTH, µMU and the claim's own metric, against the precision targets (`--targets`). With `--mixtures` and
`--theta0s` it extends a few arms instead: e.g. the two arms whose µBOTH difference needs more θ0s than the
45-minute default holds (snapshots/default/tables/power.md, "θ0s needed"), on 16 more θ0s:

    python scripts/fresh_theta0.py --mixtures mospec_cossim_ema math_only --theta0s 16 --offset 12 \
        --experiment theta0_extension --out results/benchmarks/theta0_extension.json

(its summaries are committed in snapshots/theta0_extension/: add `--compare-only --fresh
snapshots/theta0_extension` to the same command to recompute the report from them alone).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analysis import common, values, variance  # noqa: E402
from mos.common.io import write_json  # noqa: E402
from mos.common.provenance import provenance  # noqa: E402

EXPERIMENT = "fresh_theta0"
# The precision targets of a primary comparison: θ0-level 95% half-widths, in each metric's unit
TARGETS = {"mu_both": 1.0, "mu_mmlu": 2.0}


def arms_of(claim: dict) -> set[str]:
    return {m for key in ("a", "b") for m in ([claim[key]] if isinstance(claim[key], str) else claim[key])}


def fresh_config(config: Path, offset: int, mixtures: list[str] | None = None, theta0s: int | None = None,
                 experiment: str = EXPERIMENT) -> dict:
    """The default config with its θ0s moved by `offset`, its grid cut to the primary arms (or to `mixtures`)
    and its claims to the primary family and the checks (those among these arms); `theta0s` fresh θ0s, one
    run seed each, instead of as many as the original's."""
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    cfg["experiment"] = experiment
    claims = cfg["claims"]
    kept = [c for c in claims["list"] if c.get("family", "primary") in ("primary", "check")]
    if mixtures:
        kept = [c for c in kept if arms_of(c) <= set(mixtures)]
        if not kept:
            raise ValueError(f"no primary claim or check compares only {', '.join(mixtures)}")
    arms = set().union(*(arms_of(c) for c in kept))
    blocks = [b for b in cfg["grid"] if set(b["mixtures"]) & arms]
    if len(blocks) != 1:
        raise ValueError(f"{config}: expected the primary arms in one grid block, found {len(blocks)}")
    cfg["grid"] = [{**blocks[0], "mixtures": [m for m in blocks[0]["mixtures"] if m in arms]}]
    seeds = [int(s) for s in cfg["pretrain"]["seeds"]]
    if theta0s is not None:
        seeds = list(range(seeds[0], seeds[0] + theta0s))
        cfg["grid"][0]["seeds"] = list(range(theta0s))  # run seed s fine-tunes from θ0 seeds[s]
    cfg["pretrain"]["seeds"] = [s + offset for s in seeds]
    claims["list"] = kept
    claims["family_alpha"] = {"primary": claims.get("family_alpha", {}).get("primary", claims.get("alpha", 0.05))}
    claims["alpha"] = claims["family_alpha"]["primary"]
    return cfg


def compare(original: Path, fresh: Path) -> list[dict]:
    """Per hypothesis of the original's scorecard that the fresh run tested: both Δ, the original interval,
    inside or not, both verdicts, same or not, and the coverage the model predicts for a new estimate."""
    a = pd.read_csv(original / "tables" / "scorecard.csv")
    b = pd.read_csv(fresh / "tables" / "scorecard.csv").set_index(["id", "scope"])
    rows = []
    for r in a.itertuples():
        if (r.id, r.scope) not in b.index or r.family not in ("primary", "check"):
            continue
        n = b.loc[(r.id, r.scope)]
        inside = bool(r.ci_lo <= n["effect"] <= r.ci_hi)
        # two independent estimates with the same SE: a new one falls inside the old 95% interval with
        # P(|Z| < 1.96 / √2) (for large df), about 83%
        expected = float(2 * stats.t.cdf(stats.t.ppf(0.975, r.df) / math.sqrt(2), r.df) - 1) if r.df > 0 else math.nan
        rows.append({"id": r.id, "scope": r.scope, "claim": r.claim, "family": r.family, "metric": r.metric,
                     "original_effect": r.effect, "original_lo": r.ci_lo, "original_hi": r.ci_hi,
                     "fresh_effect": float(n["effect"]), "fresh_lo": float(n["ci_lo"]), "fresh_hi": float(n["ci_hi"]),
                     "inside_original_interval": inside, "expected_inside_rate": expected,
                     "original_verdict": r.verdict, "fresh_verdict": str(n["verdict"]),
                     "same_verdict": str(r.verdict).split(" (")[0] == str(n["verdict"]).split(" (")[0],
                     "predicted_same_verdict": getattr(r, "same_verdict", math.nan)})
    return rows


@functools.cache
def metric_values(exp: Path) -> dict[str, pd.DataFrame]:
    """Every claim metric per run of an experiment (read once, however many claims and metrics are pooled)."""
    inputs = common.load_inputs(exp)
    return values.metric_values(inputs.metrics, inputs.runs)


def theta0_differences(exp: Path, a: str, b: str, metric: str) -> pd.Series:
    """Per θ0 of an experiment: the mean of arm a's runs minus arm b's (seeds averaged within θ0), one backbone."""
    frame = metric_values(exp)[metric]
    if frame["backbone"].nunique() != 1:
        raise ValueError(f"{exp}: expected one backbone, found {sorted(frame['backbone'].unique())}")
    means = frame[frame["mixture"].isin([a, b])].groupby(["theta0", "mixture"])["value"].mean().unstack("mixture")
    return (means[a] - means[b]).dropna().rename(f"{exp.name}")


def half_width(d: np.ndarray) -> float:
    """The θ0-level paired-t 95% half-width of the mean of the per-θ0 differences d."""
    return variance.half_width(float(np.var(d, ddof=1)), len(d)) if len(d) > 1 else math.inf


def pooled_precision(original: Path, fresh: Path, claims: list[dict], targets: dict[str, float]) -> list[dict]:
    """Per claim (a contrast of two arms) and metric: the half-widths on the original's θ0s, on the fresh ones
    and on both (their θ0s are disjoint, checked), against the metric's target."""
    rows = []
    for c in claims:
        if not (isinstance(c["a"], str) and isinstance(c["b"], str)):
            continue
        for metric in dict.fromkeys([*targets, c.get("metric", "mu_both")]):
            old, new = (theta0_differences(e, c["a"], c["b"], metric) for e in (original, fresh))
            shared = set(old.index) & set(new.index)
            if shared:
                raise ValueError(f"{original} and {fresh} share θ0s {sorted(shared)}: pick another --offset")
            both = pd.concat([old, new])
            row = {"id": c["id"], "a": c["a"], "b": c["b"], "metric": metric,
                   "theta0s_original": len(old), "half_width_original": half_width(old.to_numpy()),
                   "theta0s_fresh": len(new), "half_width_fresh": half_width(new.to_numpy()),
                   "theta0s_pooled": len(both), "effect_pooled": float(both.mean()),
                   "sd_pooled": float(both.std(ddof=1)), "half_width_pooled": half_width(both.to_numpy()),
                   "target": targets.get(metric)}
            row["target_met_pooled"] = None if row["target"] is None else row["half_width_pooled"] <= row["target"]
            row["theta0s_needed"] = None if row["target"] is None else theta0s_for(row["sd_pooled"] ** 2, row["target"])
            rows.append(row)
    return rows


def theta0s_for(diff_var: float, target: float, max_n: int = 1000) -> int | None:
    """The fewest θ0s whose paired-t 95% half-width is ≤ target at this variance of the per-θ0 differences."""
    return next((n for n in range(2, max_n + 1) if variance.half_width(diff_var, n) <= target), None)


def parse_targets(text: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in values.METRICS:
            raise SystemExit(f"--targets: expected metric=half_width with a metric of {', '.join(values.METRICS)}, "
                             f"got {part!r}")
        out[key] = float(value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--original", type=Path, default=REPO / "snapshots" / "default", help="the experiment to check")
    ap.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    ap.add_argument("--offset", type=int, default=100, help="added to every pretraining seed (new θ0s)")
    ap.add_argument("--mixtures", nargs="+", help="only these arms (and the claims among them); default: the "
                    "primary arms and the A/A copy")
    ap.add_argument("--theta0s", type=int, help="fresh θ0s, one run seed each (default: as many as the original's)")
    ap.add_argument("--experiment", default=EXPERIMENT, help="its results/<experiment>/ folder")
    ap.add_argument("--targets", default=",".join(f"{k}={v:g}" for k, v in TARGETS.items()),
                    help="θ0-level 95%% half-width targets, metric=value,... (default: %(default)s)")
    ap.add_argument("--cores", default="all")
    ap.add_argument("--out", type=Path, default=REPO / "results" / "benchmarks" / "fresh_theta0.json")
    ap.add_argument("--compare-only", action="store_true", help="compare an existing results/<experiment>")
    ap.add_argument("--fresh", type=Path, help="with --compare-only: the fresh experiment's folder (default "
                    "results/<experiment>; e.g. its committed snapshots/<experiment>)")
    args = ap.parse_args(argv)
    targets = parse_targets(args.targets)
    fresh = args.fresh or REPO / "results" / args.experiment
    cfg = fresh_config(args.config, args.offset, args.mixtures, args.theta0s, args.experiment)
    started = time.perf_counter()
    wall = None
    if args.compare_only and args.out.exists():  # the time of the run that made results/<experiment>
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        wall = previous.get("wall_minutes") if previous.get("theta0s") == cfg["pretrain"]["seeds"] else None
    if not args.compare_only:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(cfg, f, sort_keys=False, allow_unicode=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--configfile", f.name],
                              cwd=REPO, env=env)
        if proc.returncode != 0:
            print(f"fresh_theta0: snakemake failed (rc {proc.returncode}); see logs/{args.experiment}/", file=sys.stderr)
            return proc.returncode
    rows = compare(args.original, fresh)
    if not rows:
        print("fresh_theta0: no hypothesis of the original was tested again", file=sys.stderr)
        return 1
    pooled = pooled_precision(args.original, fresh, cfg["claims"]["list"], targets)
    inside = [r["inside_original_interval"] for r in rows]
    same = [r["same_verdict"] for r in rows]
    report = {"how": "python scripts/fresh_theta0.py (the primary arms on θ0s disjoint from the original's)",
              "original": str(args.original.relative_to(REPO) if args.original.is_relative_to(REPO) else args.original),
              "theta0s": cfg["pretrain"]["seeds"], "wall_minutes": wall if args.compare_only else round((time.perf_counter() - started) / 60, 1),
              "inside_original_interval": f"{sum(inside)} of {len(inside)}",
              "same_verdict": f"{sum(same)} of {len(same)}",
              "fresh_runs_git_commit": sorted(set(common.load_runs(fresh)["git_commit"].astype(str))), "hypotheses": rows,
              "pooled_precision": pooled, "provenance": provenance()}
    write_json(args.out, report)
    for r in rows:
        print(f"{r['id']:28s} {r['scope']:10s} original {r['original_effect']:+.2f} [{r['original_lo']:+.2f}, "
              f"{r['original_hi']:+.2f}] fresh {r['fresh_effect']:+.2f}  inside {r['inside_original_interval']!s:5s} "
              f"verdict {r['original_verdict']} -> {r['fresh_verdict']}")
    for r in pooled:
        print(f"{r['id']:28s} {r['metric']:9s} ±{r['half_width_original']:.2f} ({r['theta0s_original']} θ0s)  "
              f"±{r['half_width_fresh']:.2f} ({r['theta0s_fresh']})  pooled ±{r['half_width_pooled']:.2f} "
              f"({r['theta0s_pooled']}) target {r['target'] if r['target'] is not None else '–'}"
              + (f", reached at {r['theta0s_needed']} θ0s" if r["theta0s_needed"] else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
