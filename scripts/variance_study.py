"""Measure how much of the seed-to-seed noise each training setting removes (issue 10 part 4).

    python scripts/variance_study.py                      # 10 seeds, every setting below, tiny-llama
    python scripts/variance_study.py --seeds 4 --settings base no_average   # a quick look
    python scripts/variance_study.py --report-only results/variance-study   # tables from a finished run
    python scripts/variance_study.py --settings base lr3e-3 no_average batch32 --name variance_study_v2

One cell of the default experiment (config/config.yaml's testbed, θ0s and evaluation; backbone
tiny-llama) is trained under each candidate setting below, with PROP. (τ = 1) and UNI. (τ = ∞) at
every seed, through the real pipeline (`snakemake --configfile <study config>`; the study config is
written next to the results). A setting overrides keys of the config's `train` (base = the config
as it is), and every setting keeps the training budget (steps × batch = the default's examples), so
the settings differ only in how they spend it. Per setting and metric (µMU, µMB,
µBOTH), the table gives the seed standard deviation pooled over the two arms (with its 95% interval
from the χ² distribution), its ratio to the default's, and the per-skill gap PROP. − UNI. on NLP and
General (the mixture must still decide the skills: the issue asks for ≥ 10 points on both). The
report goes to results/benchmarks/<name>.{json,md} (`--name`, default variance_study).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import common  # noqa: E402
from analysis.values import metric_values  # noqa: E402

BACKBONE = "tiny-llama"
ARMS = {"prop": {"strategy": "temperature", "tau": 1}, "uni": {"strategy": "temperature", "tau": ".inf"}}
# name -> overrides of the config's train (budget kept: steps x batch_size equal to the default's).
# The names say the absolute setting where base has changed since: testbed v1's study (base = lr 3e-3,
# no averaging) adopted lr1e-3_tail50, which is the base of the default since.
SETTINGS: dict[str, dict] = {
    "base": {},
    "lr1e-3": {"lr": 1.0e-3},
    "lr3e-3": {"lr": 3.0e-3},
    "no_average": {"average": "none"},
    "batch32": {"batch_size": 32, "micro_batch_size": 32, "halve_steps": True},
    "tail50": {"average": "tail", "average_start": 0.5},
    "ema99": {"average": "ema", "average_decay": 0.99, "average_start": 0.5},
    "lr1e-3_tail50": {"lr": 1.0e-3, "average": "tail", "average_start": 0.5},
    "batch32_tail50": {"batch_size": 32, "micro_batch_size": 32, "halve_steps": True, "average": "tail",
                       "average_start": 0.5},
}
METRICS = {"mu_mmlu": "µMU", "mu_mtbench": "µMB", "mu_both": "µBOTH"}


def changes(name: str, train: dict) -> dict:
    """The overrides of a setting that differ from the config's `train`."""
    return {k: v for k, v in SETTINGS[name].items() if k == "halve_steps" or train.get(k) != v}


def distinct_settings(train: dict) -> list[str]:
    """base, then every setting that trains differently from base and from the settings before it."""
    seen, names = [{}], ["base"]
    for name in SETTINGS:
        if (effective := changes(name, train)) not in seen:
            seen.append(effective)
            names.append(name)
    return names


def study_config(settings: list[str], seeds: int) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    base_train = cfg["train"]
    cfg["experiment"] = "variance-study"
    cfg["seeds"] = list(range(seeds))
    cfg["backbones"] = {BACKBONE: cfg["backbones"][BACKBONE]}
    cfg["mixtures"] = {}
    for name in settings:
        train = {k: v for k, v in SETTINGS[name].items() if k != "halve_steps"}
        if SETTINGS[name].get("halve_steps"):
            train["steps"] = base_train["steps"] * base_train["batch_size"] // train["batch_size"]
        for arm, strategy in ARMS.items():
            cfg["mixtures"][f"{name}__{arm}"] = {**strategy, **({"train": train} if train else {}),
                                                 "paper_label": f"{name} {arm}"}
    cfg["grid"] = [{"backbones": "all", "mixtures": "all"}]
    cfg["eval"] = {**cfg["eval"], "benchmarks": ["testbed_mc", "testbed_chat"], "winrate": {"reference": None}}
    cfg["claims"] = {}
    return cfg


def run_pipeline(cfg: dict, work: Path, cores: str) -> float:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    snakemake = Path(sys.executable).parent / "snakemake"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([str(snakemake), "--cores", cores, "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", str(path), "--directory", str(work), "--until", "aggregate"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return time.perf_counter() - t0


def sd_interval(ss: float, df: int) -> tuple[float, float, float]:
    """Pooled SD and its 95% interval from the χ² distribution of ss / σ² with df degrees of freedom."""
    if df <= 0:
        return math.nan, math.nan, math.nan
    return (math.sqrt(ss / df), math.sqrt(ss / stats.chi2.ppf(0.975, df)), math.sqrt(ss / stats.chi2.ppf(0.025, df)))


def report(exp: Path) -> dict:
    runs = common.load_runs(exp)
    metrics = common.load_summary(exp, "metrics", ["backbone", "mixture", "seed", "benchmark", "scope", "name",
                                                    "metric", "value"])
    values = metric_values(metrics, runs)
    skills = metrics[(metrics["benchmark"] == "testbed_mc") & (metrics["scope"] == "skill")]
    seconds = runs.groupby("mixture")["train_seconds"].mean()
    rows = []
    for setting in dict.fromkeys(m.split("__")[0] for m in runs["mixture"]):
        row: dict = {"setting": setting, "seeds": int((runs["mixture"] == f"{setting}__prop").sum()),
                     "train_seconds": float(seconds.get(f"{setting}__prop", math.nan))}
        for key, label in METRICS.items():
            v = values.get(key)
            if v is None:
                continue
            part = v[v["mixture"].str.startswith(setting + "__")]
            dev = part.groupby("mixture")["value"].transform(lambda x: x - x.mean())
            sd, lo, hi = sd_interval(float((dev ** 2).sum()), len(part) - part["mixture"].nunique())
            row |= {f"{label} sd": sd, f"{label} sd lo": lo, f"{label} sd hi": hi}
            for arm in ARMS:
                row[f"{label} {arm}"] = float(part[part["mixture"] == f"{setting}__{arm}"]["value"].mean())
        for skill in ("NLP", "General", "Mathematics", "Medicine"):
            s = skills[skills["name"] == skill]
            gap = [100 * (s[s["mixture"] == f"{setting}__prop"]["value"].mean()
                          - s[s["mixture"] == f"{setting}__uni"]["value"].mean())]
            row[f"gap {skill}"] = gap[0]
        rows.append(row)
    table = pd.DataFrame(rows)
    base = table.set_index("setting").get("µBOTH sd", pd.Series(dtype=float)).get("base", math.nan)
    table["µBOTH variance vs base"] = table["µBOTH sd"] ** 2 / base ** 2 if base == base else math.nan
    table["decides skills"] = (table["gap NLP"].abs() >= 10) & (table["gap General"].abs() >= 10)
    return {"table": table, "git_commits": sorted(set(runs["git_commit"].astype(str)))}


def markdown(table: pd.DataFrame, wall: float | None, meta: dict) -> str:
    def fmt(r: pd.Series, label: str) -> str:
        return f"{r[f'{label} sd']:.2f} [{r[f'{label} sd lo']:.2f}, {r[f'{label} sd hi']:.2f}]"

    lines = ["# Variance reduction: seed SD of the metrics under each training setting", "",
             f"tiny-llama, PROP. and UNI. at each of {int(table['seeds'].max())} seeds (run seed s on θ0 s mod "
             f"{meta['thetas']}); SD pooled over the two arms with its 95% χ² interval; gap = PROP. − UNI. in "
             "testbed MC accuracy points (the mixture must still decide NLP and General by ≥ 10 points).", "",
             "| Setting | µMU SD | µMB SD | µBOTH SD | Var(µBOTH) / base | Gap NLP | Gap General | Decides skills "
             "| Train s/run |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['setting']} | {fmt(r, 'µMU')} | {fmt(r, 'µMB')} | {fmt(r, 'µBOTH')} | "
                     f"{r['µBOTH variance vs base']:.2f} | {r['gap NLP']:+.1f} | {r['gap General']:+.1f} | "
                     f"{'yes' if r['decides skills'] else 'no'} | {r['train_seconds']:.1f} |")
    if wall:
        lines += ["", f"Pipeline wall time: {wall / 60:.1f} min on {os.cpu_count()} cores "
                  f"(`python scripts/variance_study.py`)."]
    lines += ["", "Settings: " + "; ".join(f"{k} = {json.dumps(v)}" for k, v in meta["settings"].items()) + ".",
              "", f"Runs made at commit {', '.join(meta['git_commits'])} (`git_commit` of summary/runs.csv)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS),
                    help="default: base and every setting that changes the config's train")
    ap.add_argument("--cores", default="all")
    ap.add_argument("--work", default=str(ROOT / "results" / "variance-study-work"),
                    help="working directory of the pipeline run (kept: reruns resume)")
    ap.add_argument("--report-only", help="skip the run; report on this results/<exp> folder")
    ap.add_argument("--name", default="variance_study", help="report name under results/benchmarks/")
    args = ap.parse_args()
    train = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))["train"]
    if args.settings is None:  # settings the recipe has since adopted would only rerun base
        args.settings = distinct_settings(train)
    elif same := [name for name in args.settings if name != "base" and not changes(name, train)]:
        ap.error(f"{', '.join(same)}: the same as config/config.yaml's train (base) now; leave them out")
    cfg = study_config(args.settings, args.seeds)
    wall = None
    if args.report_only:
        exp = Path(args.report_only)
    else:
        wall = run_pipeline(cfg, Path(args.work), args.cores)
        exp = Path(args.work) / "results" / cfg["experiment"]
    result = report(exp)
    table = result["table"]
    meta = {"backbone": BACKBONE, "seeds": args.seeds, "thetas": len(cfg["pretrain"]["seeds"]),
            "settings": {s: SETTINGS[s] for s in table["setting"]}, "wall_seconds": wall,
            "git_commits": result["git_commits"]}
    out = ROOT / "results" / "benchmarks" / args.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({**meta, "table": table.replace({np.nan: None}).to_dict("records")},
                                                   indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(table, wall, meta))
    print(markdown(table, wall, meta))


if __name__ == "__main__":
    main()
