"""Benchmark: wall time of the whole default pipeline (`snakemake --cores all`) from empty results,
in a scratch working directory, with the installed environment.

    python scripts/benchmark_pipeline.py --grid static   # issue 2's grid: 3 backbones x 3 static x 3 seeds
    python scripts/benchmark_pipeline.py --grid full     # the whole default config (what `make run` runs)
    python scripts/benchmark_pipeline.py --grid headroom # config/headroom.yaml (`make headroom`)
    python scripts/benchmark_pipeline.py --grid headroom_small  # config/headroom_small.yaml
    python scripts/benchmark_pipeline.py --grid full --keep /tmp/default-run   # keep its results (e.g. to
                                                           # publish them: python -m mos snapshot)

`static` takes config/config.yaml and keeps only its proportional, temperature and uniform mixtures on
every backbone (and no claims). The report (results/benchmarks/pipeline_<grid>.json) has the
wall time, the number of runs and jobs, their summed training seconds, the machine and the git
commit. Targets on the 2-core machine: static <= 15 min, full <= 45 min (issue 10).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mos.common.provenance import cpu_model, git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = ["proportional", "temperature", "uniform"]


CONFIGS = {"static": "config.yaml", "full": "config.yaml", "headroom": "headroom.yaml",
           "headroom_small": "headroom_small.yaml"}


def config_for(grid: str) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / CONFIGS[grid]).read_text(encoding="utf-8"))
    if grid == "static":
        cfg["grid"] = [{"backbones": "all", "mixtures": STATIC}]
        cfg["mixtures"] = {m: cfg["mixtures"][m] for m in STATIC}
        cfg["claims"] = {}
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", choices=list(CONFIGS), default="static")
    ap.add_argument("--cores", default="all")
    ap.add_argument("--keep", help="run in this folder instead of a temporary one (kept afterwards)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        cfg_path = work / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(config_for(args.grid), sort_keys=False, allow_unicode=True))
        snakemake = Path(sys.executable).parent / "snakemake"
        cmd = [str(snakemake), "--cores", args.cores, "--snakefile", str(ROOT / "Snakefile"),
               "--configfile", str(cfg_path), "--directory", str(work)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        cfg = config_for(args.grid)
        runs = list((work / "results" / cfg["experiment"] / "runs").glob("*/*/seed*/run.json"))
        train_seconds = sum(json.loads(p.read_text())["timing"]["train_seconds"] for p in runs)
        jobs = sum(1 for line in proc.stderr.splitlines() if line.startswith("Finished jobid"))
        report = {"grid": args.grid, "config": f"config/{CONFIGS[args.grid]}",
                  "how": "snakemake --cores all from empty resources/ and results/ "
                  "(scripts/benchmark_pipeline.py)", "git_commit": git_commit(ROOT), "cpu": cpu_model()[0],
                  "cores": os.cpu_count(), "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 2),
                  "runs": len(runs), "jobs": jobs, "summed_train_seconds": round(train_seconds, 1)}
        out = ROOT / "results" / "benchmarks" / f"pipeline_{args.grid}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"{args.grid}: {len(runs)} runs, {wall / 60:.1f} min wall ({train_seconds / 60:.1f} min of training)")


if __name__ == "__main__":
    main()
