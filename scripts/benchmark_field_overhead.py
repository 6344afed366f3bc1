"""Benchmark: the wall-time cost of every dynamic mixing method over uniform sampling at equal
optimizer steps, side by side in one run, with each method's floor (its extra forward/backward work
over the training's), next to the overheads DynamixSFT (Shin et al. 2026, §8) reports: +12.7% for
itself, 2.39x for HBO, 4.8x for MultiUAT, 8.6x for MultiDDS (FIELD.md §1, ⚠ a secondary summary).

    python scripts/benchmark_field_overhead.py                       # ~8-10 min on one CPU thread
    python scripts/benchmark_field_overhead.py --work /tmp/field_bench --repeats 2   # keep/reuse the build

The successor of scripts/benchmark_mos_overhead.py (which stays: MoS alone, with replay controls and
the growth with N datasets); the build is the same (scripts/_bench.py `prepare`): the generated testbed,
tokenizer, tiny-llama pretrained as the workflow does, the tokenization cache and θ0's perplexity of
every training example. Arms: uniform (the reference), and every dynamic mixture of
config/config.yaml with its settings there, i.e. as the default grid would train it: multidds,
multiuat, mos_cossim, mos_diff (the paper's probe sizes: 64 / 16 per dataset, every 50 steps), hbo,
doremi (its reference model: a short UNI. run made first, also the warm-up), odm, dynamixsft
(look-ahead reward), dynamixsft_fwd (forward-only reward) and aioli, and the variants of issue 19
(hbo_ppl, odm_alg1, odm_exp3, dynamixsft_sgd, aioli_cumulative, aioli_short). The strategies that read
θ0's pre-pass (base_ppl) get its build time as `prepass_seconds` (the leaderboard adds it to their cost). DoReMi's two-stage variant is a
static mixture (no overhead of its own; the cost of its proxy and reference runs is budget, see
run.json `budget`).

1. Side by side: per repeat, all arms' real runs (mos.training.loop.Run, unchanged, the config's `train`:
   600 steps of batch 16) take turns `--turn` steps at a time (scripts/_bench.py's Lockstep, through
   the loop's hooks), so that load from other processes falls on all arms alike. Reported: the loop's
   wall-time ratio to uniform's (every step, update, log, checkpoint; not setup or the final model
   write; uniform runs twice, first and last in the turn order, and the reference is the mean of
   the two, whose ratio to each other shows the noise of the measurement), the same in CPU seconds,
   and the in-run overhead, the time inside the strategy's updates
   over the rest of the same run (free of the other data a learned mixture draws: a run that
   samples more of long-example datasets trains on more tokens; the token ratio is given too).
2. Floors. (a) Passes: forward hooks on every model the run uses (the trained model and DoReMi's
   reference, hooked when the probe loads it) count the tokens it processes outside training
   steps, split into forward-only and forward+backward (a forward with gradients on: MultiDDS's
   and HBO's gradients, DynamixSFT's look-ahead); with a backward costing two forwards,
   floor = (fwd + 3 fwd_bwd) / (3 x training tokens). Aioli's bursts are training steps, inside the
   budget: its floor counts only its validation forwards. (b) Time: one update timed in isolation
   (fastest of several calls) x the number of updates the run made, over steps x one training step
   (fastest of several).

Results go to --out (JSON) and a table is printed. One CPU thread (--threads). The machine's load
average is recorded with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from _bench import Lockstep, PassCounter, UpdateTimer, best_time, job_spec, log, prepare  # noqa: E402

from mos.common.io import write_json  # noqa: E402
from mos.mixing import registry  # noqa: E402
from mos.pipeline.config import load_config  # noqa: E402
from mos.pipeline.grid import mixture_train  # noqa: E402
from mos.pipeline.specs import strategy_params  # noqa: E402
from mos.training.loop import Run  # noqa: E402

CONTROL = "uniform_control"
ARMS = ["multidds", "multiuat", "mos_cossim", "mos_diff", "hbo", "doremi", "odm", "dynamixsft", "dynamixsft_fwd",
        "aioli", "hbo_ppl", "odm_alg1", "odm_exp3", "dynamixsft_sgd", "aioli_cumulative", "aioli_short"]
PUBLISHED = {  # wall-time per step relative to proportional sampling, DynamixSFT §8 (via FIELD.md §1, ⚠)
    "dynamixsft": 1.127, "hbo": 2.39, "multiuat": 4.8, "multidds": 8.6,
    "source": "DynamixSFT (Shin et al. 2026, arXiv 2508.12116) §8, as summarised in FIELD.md §1 (secondary)"}


def lockstep_round(specs: Mapping[str, Mapping[str, Any]], order: list[str], turn: int,
                   work: Path) -> dict[str, Any]:
    """One repeat: every arm's whole run in turns of `turn` steps, its updates timed, its passes counted."""
    lock = Lockstep(order, turn)
    timers = {label: UpdateTimer() for label in order}
    counters = {label: PassCounter() for label in order}
    runs = {}
    for label in order:
        shutil.rmtree(work / "runs" / label, ignore_errors=True)
        runs[label] = Run(specs[label], work / "runs" / label,
                          hooks=[lock.turns(label), timers[label], counters[label]])
    info = lock.run_all(runs)
    for label in order:
        shutil.rmtree(work / "runs" / label, ignore_errors=True)
    return {label: {"loop_seconds": lock.wall[label], "loop_cpu_seconds": lock.cpu[label],
                    "tokens": info[label]["tokens"], "final_weights": info[label]["final_weights"],
                    "update": timers[label].seconds,
                    "update_cpu": timers[label].cpu_seconds, "n_updates": timers[label].n_updates,
                    "passes": counters[label].counts} for label in order}


def isolated(specs: Mapping[str, Mapping[str, Any]], work: Path, repeats: int) -> dict[str, Any]:
    """One training step and one update of each arm, timed alone (fastest of several calls)."""
    uni = Run(specs["uniform"], work / "isolated" / "uniform")
    uni.model.train()
    out: dict[str, Any] = {"train_step_ms": round(1e3 * best_time(uni.train_step, repeats=max(20, 4 * repeats), warmup=3), 3)}
    del uni
    for label in ARMS:
        run = Run(specs[label], work / "isolated" / label)
        run.model.eval()
        run.step = run.strategy.first_update or run.strategy.update_every  # the update's step, no training
        if run.strategy.first_update == 0:  # a baseline measurement first (DynamixSFT forward-only, Aioli)
            run.update_strategy()
        snapshot = copy.deepcopy(run.strategy.state_dict())

        def one(run: Run = run, snapshot: Any = snapshot) -> None:
            run.strategy.load_state_dict(copy.deepcopy(snapshot))  # the same update every call
            run.update_strategy()

        out[label] = round(1e3 * best_time(one, repeats=max(3, repeats), warmup=1), 3)
        del run
    return out


def summarize(results: Mapping[str, list[dict[str, Any]]], iso: Mapping[str, Any], steps: int) -> dict[str, Any]:
    first, last = results["uniform"], results[CONTROL]
    base = [{"loop_seconds": (a["loop_seconds"] + b["loop_seconds"]) / 2,
             "loop_cpu_seconds": (a["loop_cpu_seconds"] + b["loop_cpu_seconds"]) / 2, "tokens": a["tokens"]}
            for a, b in zip(first, last, strict=True)]
    out: dict[str, Any] = {"uniform": {"loop_seconds": [round(r["loop_seconds"], 3) for r in first],
                                       "control_loop_seconds": [round(r["loop_seconds"], 3) for r in last],
                                       "control_ratio": [round(b["loop_seconds"] / a["loop_seconds"], 4)
                                                         for a, b in zip(first, last, strict=True)],
                                       "tokens": first[0]["tokens"], "train_tokens_counted": first[0]["passes"]["train"]}}
    for label in ARMS:
        runs = results[label]
        pairs = list(zip(runs, base, strict=True))
        passes = runs[0]["passes"]
        n_updates = runs[0]["n_updates"]
        entry = {
            "loop_seconds": [round(r["loop_seconds"], 3) for r in runs],
            "ratio_per_repeat": [round(r["loop_seconds"] / b["loop_seconds"], 4) for r, b in pairs],
            "ratio": round(statistics.median(r["loop_seconds"] / b["loop_seconds"] for r, b in pairs), 4),
            "cpu_ratio": round(statistics.median(r["loop_cpu_seconds"] / b["loop_cpu_seconds"] for r, b in pairs), 4),
            "in_run_overhead": round(statistics.median(r["update"] / (r["loop_seconds"] - r["update"]) for r in runs), 4),
            "n_updates": n_updates,
            "token_ratio_vs_uniform": round(runs[0]["tokens"] / base[0]["tokens"], 4),
            "passes": passes,
            "pass_floor": round((passes["update_fwd"] + 3 * passes["update_fwd_bwd"]) / (3 * passes["train"]), 4),
            "update_ms_isolated": iso[label],
            "time_floor": round(n_updates * iso[label] / (steps * iso["train_step_ms"]), 4),
            "final_weights": runs[0]["final_weights"],
        }
        if label in PUBLISHED:
            entry["published_ratio"] = PUBLISHED[label]
        out[label] = entry
    return out


def with_prepass(arms: dict[str, Any], specs: Mapping[str, Any], built: Mapping[str, Any]) -> dict[str, Any]:
    """Add θ0's pre-pass (the base_ppl build: perplexities and IFD of every training example) as
    `prepass_seconds` to the arms whose strategy reads it (analysis/leaderboard.py counts it in their cost)."""
    seconds = (built.get("build_seconds") or {}).get("base_ppl")
    for label in ARMS:
        mixture = specs[label]["mixture"]
        if seconds is not None and registry.build(mixture["strategy"], mixture["params"]).needs_base_ppl:
            arms[label]["prepass_seconds"] = round(seconds, 3)
    return arms


def print_report(rep: Mapping[str, Any]) -> None:
    arms = rep["arms"]
    log(f"\nEvery dynamic method vs uniform, {rep['backbone']}, {rep['train']['steps']} steps x batch "
        f"{rep['train']['batch_size']}, {rep['repeats']} repeat(s) in lockstep (turns of {rep['turn']} steps), "
        f"{rep['threads']} thread; uniform loop {statistics.median(arms['uniform']['loop_seconds']):.1f} s, its "
        f"control twin's ratio to it {statistics.median(arms['uniform']['control_ratio']):.3f}")
    log(f"{'arm':<15} {'ratio':>7} {'cpu':>7} {'in-run':>7} {'floor:passes':>13} {'floor:time':>11} {'updates':>8} "
        f"{'tokens':>7} {'published':>10}")
    for label in ARMS:
        e = arms[label]
        pub = f"{e['published_ratio']:.3g}x" if "published_ratio" in e else ""
        log(f"{label:<15} {e['ratio']:7.3f} {e['cpu_ratio']:7.3f} {1 + e['in_run_overhead']:7.3f} "
            f"{1 + e['pass_floor']:13.3f} {1 + e['time_floor']:11.3f} {e['n_updates']:8d} {e['token_ratio_vs_uniform']:7.3f} "
            f"{pub:>10}")
    log("ratio: loop wall time / uniform's at equal steps; cpu: the same in CPU seconds; in-run: 1 + update time / "
        "rest of the same run; floor:passes: 1 + extra forward(+backward) tokens over training's (backward = 2 "
        "forwards); floor:time: 1 + isolated update time x updates / (steps x isolated step); tokens: trained tokens / "
        "uniform's; published: DynamixSFT §8 (per step vs proportional, 8xA100, Llama)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--backbone", default="tiny-llama")
    ap.add_argument("--repeats", type=int, default=1, help="lockstep rounds of all arms")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the config's)")
    ap.add_argument("--turn", type=int, default=50, help="steps per lockstep turn")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=None, help="build folder to keep and reuse (default: a temporary one)")
    ap.add_argument("--out", default="results/benchmarks/field_overhead.json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    train = mixture_train(cfg, "uniform")
    if args.steps:
        train = {**train, "steps": args.steps}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log(f"building in {work} ...")
        with contextlib.redirect_stderr(io.StringIO()):
            built = prepare(work, cfg, args.backbone, args.threads)
        log(f"  built: {built['build_seconds'] or 'reused'}")
        reference = work / "reference_uniform"  # DoReMi's reference model; also warms caches up
        warm = job_spec(built, args.backbone, "uniform", "temperature", {"tau": "inf"}, {**train, "steps": args.turn})
        if not (reference / "run.json").exists():
            with contextlib.redirect_stderr(io.StringIO()):
                Run(warm, reference).run()
        specs = {label: job_spec(built, args.backbone, label, "temperature", {"tau": "inf"}, train)
                 for label in ("uniform", CONTROL)}
        for label in ARMS:
            specs[label] = job_spec(built, args.backbone, label, cfg["mixtures"][label]["strategy"],
                                    strategy_params(cfg, label), train)
            specs[label]["runs"] = {"reference": str(reference)}
        results: dict[str, list[dict[str, Any]]] = {label: [] for label in ("uniform", *ARMS, CONTROL)}
        log(f"1. lockstep: {len(results)} arms x {train['steps']} steps, {args.repeats} repeat(s)")
        for rep in range(args.repeats):
            k = rep % len(ARMS)  # the dynamic arms rotate; uniform opens and its control twin closes each turn
            for label, r in lockstep_round(specs, ["uniform", *ARMS[k:], *ARMS[:k], CONTROL], args.turn, work).items():
                results[label].append(r)
                log(f"  repeat {rep + 1}  {label:<15} loop {r['loop_seconds']:6.2f} s  updates {r['update']:6.2f} s "
                    f"({r['n_updates']})  tokens {r['tokens']:,}")
        load.append(os.getloadavg()[0])
        log("2. isolated timings")
        iso = isolated(specs, work, 5)
        load.append(os.getloadavg()[0])
        report = {
            "what": "every dynamic mixing method vs uniform sampling at equal optimizer steps; pass and time floors",
            "command": "python scripts/benchmark_field_overhead.py"
                       + (f" --repeats {args.repeats}" if args.repeats != 1 else ""),
            "backbone": args.backbone, "threads": args.threads, "repeats": args.repeats, "turn": args.turn,
            "train": {k: train[k] for k in ("steps", "batch_size", "micro_batch_size", "loss", "pack_length")},
            "params": {label: strategy_params(cfg, label) for label in ARMS},
            "arms": with_prepass(summarize(results, iso, int(train["steps"])), specs, built),
            "isolated_ms": iso,
            "published": PUBLISHED,
            "build_seconds": built["build_seconds"],
            "environment": {"torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
                            "load_average_start_mid_end": [round(x, 2) for x in load]},
        }
        report["total_seconds"] = round(time.perf_counter() - t_start, 1)
    write_json(args.out, report)
    print_report(report)
    log(f"\nwrote {args.out} in {report['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
