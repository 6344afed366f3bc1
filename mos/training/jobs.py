"""One training job from its spec: `train(spec, out)` runs or resumes a `Run` of the one loop
(mos.training.loop), and `python -m mos train` runs one or several jobs in one process.

    python -m mos train --spec @job.json --out results/default/runs/tiny-llama/uniform/seed0
    python -m mos train --spec "$(python -m mos config spec train config/config.yaml tiny-llama uniform 0)" --out DIR
    python -m mos train --spec @a.json --out A --spec @b.json --out B --done cell.json   # several runs in one
                                                  # process (imports paid once); finished runs are skipped
    accelerate launch --multi_gpu --num_processes 2 -m mos train --spec @job.json --out DIR   # data parallel
    (on a machine without CUDA this runs two gloo processes on the CPU; accelerate 1.15's --cpu flag
    spawns several processes only under mpirun)
    accelerate launch --config_file config/accelerate/deepspeed_zero2.yaml --num_processes 4 \\
        -m mos train --spec @job.json --out DIR      # DeepSpeed ZeRO-2 on 4 GPUs (needs `deepspeed`)

A run folder whose run.json records exactly this spec is finished and skipped (`finished`).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from mos.common.io import write_json
from mos.common.spec import read_spec
from mos.training.loop import Run


def train(spec: Mapping[str, Any], out: str | os.PathLike, threads: int | None = None) -> dict[str, Any]:
    """Run (or resume) one training job; returns what run.json records."""
    if threads:
        torch.set_num_threads(threads)
    Path(out).mkdir(parents=True, exist_ok=True)
    return Run(spec, Path(out)).run()


def finished(spec: Mapping[str, Any], out: str | os.PathLike) -> dict[str, Any] | None:
    """The run.json of `out` when it is a finished run of exactly this spec, else None."""
    path = Path(out) / "run.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except ValueError:
        return None
    return info if info.get("spec") == json.loads(json.dumps(dict(spec))) else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", action="append", required=True,
                    help="job spec as JSON, or @file.json (a run.json works too); repeat with --out for several runs")
    ap.add_argument("--out", action="append", required=True, help="run folder (one per --spec)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--done", help="after every run finished, write this JSON listing them (a workflow's marker)")
    args = ap.parse_args(argv)
    if len(args.spec) != len(args.out):
        ap.error(f"{len(args.spec)} --spec but {len(args.out)} --out: give them in pairs")
    specs = [read_spec(s) for s in args.spec]  # every spec is checked before the first run trains
    done = []
    for spec, out in zip(specs, args.out, strict=True):
        info = finished(spec, out)
        if info is not None:  # rerunning a batch retrains only what changed
            print(f"{out}: finished already with this spec")
        else:
            info = train(spec, out, args.threads)
            print(f"{out}: {info['timing']['train_seconds']:.1f} s, {info['timing']['tokens_per_second']:,.0f} "
                  f"tok/s, padding {info['padding_fraction']:.1%}, weights {info['final_weights']}")
        done.append({"out": str(out), "final_weights": info["final_weights"]})
    if args.done:
        write_json(args.done, {"runs": done})


if __name__ == "__main__":
    main()
