"""Benchmark: the wall-time cost of Mixture-of-Skills over uniform sampling at equal optimizer steps,
the floor of that cost (the probe forwards alone), and how the reward computation and the scorer
update grow with the number of datasets N.

    python scripts/benchmark_mos_overhead.py                  # ~8-10 min on one CPU thread
    python scripts/benchmark_mos_overhead.py --repeats 5 --work /tmp/mos_bench   # keep/reuse the build

Everything it needs is built first with the project's own modules, deterministically, in --work (a
temporary folder by default; an existing --work is reused): the generated testbed and tokenizer
(config/config.yaml: testbed, tokenizer), the backbone pretrained as the workflow does
(mos.training.pretrain with the config's `pretrain` section), the tokenization cache (mos.data.tokenized) and the
base-model perplexities of every training example (mos.training.base_ppl, `base_ppl.pool_size: null`).

1. MoS vs uniform, side by side in this one process: per repeat, the three real runs
   (mos.training.loop.Run, unchanged: the config's `train` section, 600 steps of batch 16, and the config's
   MoS settings: update every S = 50 steps, scorer_lr, ppl_scope) take turns, one update interval
   (50 steps and the update that ends it) at a time, so that load from other processes falls on
   all arms alike; the arm that goes first rotates between repeats. Probe sizes follow the paper's
   probe-to-training ratio: 64 examples per dataset every 100 steps of batch 64 is
   4 x 64 / 6,400 = 4% of the training examples (COSSIM); here S x batch = 50 x 16 = 800 training
   examples per update, so 4% is 32 probe examples, 8 per dataset (cossim_examples=8). DIFF keeps
   the code's 16:64 proportion to COSSIM: 2 per dataset (diff_examples=2). Reported: the median
   over repeats of the wall-time ratio MoS/uniform of the training loop (every step, update, log
   and checkpoint; not the setup or the final model write), the same in CPU seconds, the time the
   updates took inside each MoS run (timed in place by the loop's hooks, scripts/_bench.py; the
   rewards and the scorer's share as the strategy times them itself, run.json
   `strategy_report.phase_seconds`), and the tokens each arm trained on (a
   learned mixture draws other examples than uniform, so part of any difference is the data, not
   the probe). To separate the two, each MoS arm has a replay twin in the same round: a run whose
   strategy (`Replay`, handed to the loop) returns, at every update, the weights MoS has just
   computed, with no probe and no scorer; it draws the same examples (checked: same tokens, loss
   and weights), so MoS / replay is the cost of the updates alone and replay / uniform the cost
   of the mixture's other data.
   Target (issue 3): ratio <= 1.05 (the paper: ~1.20).
2. The floor: one reward computation (probe forwards + reward arithmetic) and one scorer update
   (200 inner Adam steps) timed in isolation, against one real training step; the floor is the
   probe forwards' share of training, n_updates x reward / (steps x step), and the expected
   overhead adds the scorer updates. The same isolated timing at the config's current probe sizes
   (64 / 16 per dataset) is reported for reference.
3. Growth with N = 4, 16, 64 datasets (the four skills split into N/4 interleaved shards each):
   one COSSIM reward (N embedding batches + N x N cosines), one DIFF reward (N perplexity batches),
   the N x N cosines alone and one scorer update, each with a fitted exponent t ~ N^k.

Results go to --out (JSON) and a table is printed. One CPU thread (--threads), like
scripts/benchmark_train_loop.py. Other processes may share the cores: the run-level ratios are
medians over the lockstep repeats, the isolated timings (2, 3) the fastest of several calls, and the
machine's load average is recorded with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
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

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _bench import Lockstep, UpdateTimer, best_time, job_spec, log, prepare  # noqa: E402

from mos.common.io import write_csv, write_json  # noqa: E402
from mos.data.tokenized import TokenizedDataset, load_tokenized  # noqa: E402
from mos.data.tokenizer import load_tokenizer  # noqa: E402
from mos.mixing import registry  # noqa: E402
from mos.mixing import rewards as R  # noqa: E402
from mos.mixing.probe import Probe  # noqa: E402
from mos.mixing.scorer import ScorerPolicy  # noqa: E402
from mos.mixing.strategy import MixingStrategy, Update, Weights  # noqa: E402
from mos.models.backbones import load_model  # noqa: E402
from mos.pipeline.config import load_config  # noqa: E402
from mos.pipeline.grid import mixture_train  # noqa: E402
from mos.pipeline.specs import strategy_params  # noqa: E402
from mos.training.base_ppl import COLUMNS as BASE_PPL_COLUMNS  # noqa: E402
from mos.training.loop import Run  # noqa: E402

REPLAY = "_replay"
PAPER = {"probe_examples_per_dataset": 64, "datasets": 4, "update_every": 100, "batch_size": 64,
         "diff_examples_in_code": 16, "overhead_ratio": 1.20}
TARGET_RATIO = 1.05


# ---------------------------------------------------------------- 1. MoS vs uniform, real runs
def arms(cfg: Mapping[str, Any], cossim_examples: int, diff_examples: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """Mixture label -> (strategy, parameters): uniform and the config's MoS rows, probe sizes scaled."""
    return {"uniform": ("temperature", {"tau": "inf"}),
            "mos_cossim": ("mos", {**strategy_params(cfg, "mos_cossim"), "cossim_examples": cossim_examples}),
            "mos_diff": ("mos", {**strategy_params(cfg, "mos_diff"), "diff_examples": diff_examples})}


class Replay(MixingStrategy):
    """The control arm of a MoS run: a dynamic strategy with no probe work and no scorer that starts
    from its MoS twin's initial weights and, at every update, returns the weights the twin has just
    computed at the same step (the twin takes its turn first). Same weights and the same sampler seed
    draw the same examples, so the two runs train on identical batches and differ only by the work MoS
    does at its updates. Given to the loop as `Run(spec, out, strategy=Replay(...))`."""

    name = "replay"

    def __init__(self, source: Mapping[int, Mapping[str, float]], every: int, initial: Mapping[str, float]):
        self.source, self.update_every, self.initial = source, int(every), dict(initial)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        if set(sizes) != set(self.initial):
            raise ValueError(f"replay: the twin's datasets {sorted(self.initial)} are not {sorted(sizes)}")
        return dict(self.initial)

    def update(self, step: int, probe: Any) -> Update:
        if step not in self.source:
            raise RuntimeError(f"replay: the MoS twin has not reached step {step} (it takes its turn first)")
        return Update(dict(self.source[step]))


def lockstep_round(specs: Mapping[str, Mapping[str, Any]], order: list[str], every: int,
                   work: Path) -> dict[str, Any]:
    """One repeat: every arm trains its whole run, taking turns in `order` (a replay arm, labelled
    `<mos arm>_replay`, right after its MoS twin, whose weights after every update it replays)."""
    lock = Lockstep(order, every)
    records: dict[str, dict[int, dict[str, float]]] = {}
    timers: dict[str, UpdateTimer] = {}
    runs: dict[str, Run] = {}
    for label in order:
        shutil.rmtree(work / "runs" / label, ignore_errors=True)
        strategy = None
        if label.endswith(REPLAY):
            twin = label.removesuffix(REPLAY)
            strategy = Replay(records[twin], every, initial=runs[twin].weights)
        timers[label] = UpdateTimer(records.setdefault(label, {}))
        runs[label] = Run(specs[label], work / "runs" / label, hooks=[lock.turns(label), timers[label]],
                          strategy=strategy)
    info = lock.run_all(runs)
    for label in order:
        shutil.rmtree(work / "runs" / label, ignore_errors=True)
    out = {}
    for label in order:
        phases = info[label]["strategy_report"].get("phase_seconds", {})  # the MoS runs time their own phases
        out[label] = {"loop_seconds": lock.wall[label], "loop_cpu_seconds": lock.cpu[label],
                      "turns": lock.turns_taken[label], "tokens": info[label]["tokens"],
                      "final_weights": info[label]["final_weights"], "final_loss": info[label]["final_loss"],
                      "update": timers[label].seconds, "update_cpu": timers[label].cpu_seconds,
                      "n_updates": timers[label].n_updates, "reward": phases.get("rewards", 0.0),
                      "scorer": phases.get("scorer", 0.0)}
    return out


def compare_runs(built: Mapping[str, Any], backbone: str, mixes: Mapping[str, Any], train: Mapping[str, Any],
                 every: int, repeats: int, work: Path) -> dict[str, list[dict[str, Any]]]:
    blocks = [[label] if label == "uniform" else [label, label + REPLAY] for label in mixes]
    labels = [label for block in blocks for label in block]
    specs = {label: job_spec(built, backbone, label, *mixes[label], train) for label in mixes}
    for label in mixes:  # the replay arm's spec names no strategy of its own: Replay is passed to the loop
        if label != "uniform":
            specs[label + REPLAY] = job_spec(built, backbone, label + REPLAY, *mixes["uniform"], train)
    warm = job_spec(built, backbone, "warmup", "temperature", {"tau": "inf"}, {**train, "steps": every})
    with contextlib.redirect_stderr(io.StringIO()):
        Run(warm, work / "runs" / "warmup").run()  # caches, allocator and page cache, not measured
    results: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    for rep in range(repeats):
        k = rep % len(blocks)  # rotate which arm goes first; a replay arm stays right after its twin
        order = [label for block in blocks[k:] + blocks[:k] for label in block]
        for label, r in lockstep_round(specs, order, every, work).items():
            results[label].append(r)
            log(f"  repeat {rep + 1}/{repeats}  {label:<17} loop {r['loop_seconds']:6.2f} s "
                f"(cpu {r['loop_cpu_seconds']:6.2f} s, {r['turns']} turns)  tokens {r['tokens']:,}"
                + (f"  updates {r['update']:.2f} s ({r['n_updates']})" if r["n_updates"] else ""))
    return results


def summarize_runs(results: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    base = results["uniform"]
    out: dict[str, Any] = {}

    def med(xs: Any, digits: int = 4) -> float:
        return round(statistics.median(list(xs)), digits)

    for label, runs in results.items():
        if label.endswith(REPLAY):
            continue
        entry: dict[str, Any] = {"loop_seconds": [round(r["loop_seconds"], 3) for r in runs],
                                 "loop_cpu_seconds": [round(r["loop_cpu_seconds"], 3) for r in runs],
                                 "median_loop_seconds": med(r["loop_seconds"] for r in runs),
                                 "tokens": runs[0]["tokens"], "final_weights": runs[0]["final_weights"]}
        if label != "uniform":
            pairs = list(zip(runs, base, strict=True))
            ratios = [r["loop_seconds"] / b["loop_seconds"] for r, b in pairs]
            entry.update({
                "n_updates": runs[0]["n_updates"],
                "update_seconds": [round(r["update"], 4) for r in runs],
                "reward_seconds": [round(r["reward"], 4) for r in runs],
                "scorer_seconds": [round(r["scorer"], 4) for r in runs],
                "ratio_per_repeat": [round(x, 4) for x in ratios],
                "median_ratio": med(ratios),
                "median_cpu_ratio": med(r["loop_cpu_seconds"] / b["loop_cpu_seconds"] for r, b in pairs),
                # the updates' share of the rest of the same run: the overhead free of run-to-run noise
                "in_run_overhead": med(r["update"] / (r["loop_seconds"] - r["update"]) for r in runs),
                "in_run_cpu_overhead": med(r["update_cpu"] / (r["loop_cpu_seconds"] - r["update_cpu"]) for r in runs),
                # what is left of the ratio without the updates: the other data a learned mixture draws
                "training_only_ratio": med((r["loop_seconds"] - r["update"]) / b["loop_seconds"] for r, b in pairs),
                "token_ratio_vs_uniform": round(runs[0]["tokens"] / base[0]["tokens"], 4),
            })
            twin = results[label + REPLAY]
            pairs = list(zip(runs, twin, strict=True))
            entry["replay"] = {
                "loop_seconds": [round(r["loop_seconds"], 3) for r in twin],
                "loop_cpu_seconds": [round(r["loop_cpu_seconds"], 3) for r in twin],
                "median_ratio_vs_uniform": med(r["loop_seconds"] / b["loop_seconds"] for r, b in zip(twin, base, strict=True)),
                # MoS over its replay: the same batches, so this is the cost of the updates alone
                "ratio_per_repeat": [round(r["loop_seconds"] / t["loop_seconds"], 4) for r, t in pairs],
                "median_ratio": med(r["loop_seconds"] / t["loop_seconds"] for r, t in pairs),
                "median_cpu_ratio": med(r["loop_cpu_seconds"] / t["loop_cpu_seconds"] for r, t in pairs),
                "same_batches": all(r["tokens"] == t["tokens"] and r["final_loss"] == t["final_loss"]
                                    and r["final_weights"] == t["final_weights"] for r, t in pairs),
            }
        out[label] = entry
    return out


# ---------------------------------------------------------------- 2. the floor, in isolation
def floor(built: Mapping[str, Any], backbone: str, mixes: Mapping[str, Any], train: Mapping[str, Any],
          config_sizes: Mapping[str, int], work: Path, repeats: int) -> dict[str, Any]:
    """Isolated costs: a training step, one reward computation, one scorer update."""
    uni = Run(job_spec(built, backbone, "uniform", *mixes["uniform"], train), work / "floor" / "uniform")
    uni.model.train()
    step = best_time(uni.train_step, repeats=max(20, 4 * repeats), warmup=3)
    del uni
    out: dict[str, Any] = {"train_step_ms": round(1e3 * step, 3)}
    steps, every = int(train["steps"]), None
    for label in ("mos_cossim", "mos_diff"):
        strategy, params = mixes[label]
        variants = {"scaled": params, "config": {**params, **config_sizes}}
        for variant, p in variants.items():
            run = Run(job_spec(built, backbone, label, strategy, p, train), work / "floor" / label)
            run.model.eval()
            every = run.strategy.update_every
            reward = best_time(lambda run=run: run.strategy.rewards(run.probe), repeats=max(10, 2 * repeats))
            n_updates = len(range(every, steps, every))
            probe_share = n_updates * reward / (steps * step)
            key = label if variant == "scaled" else f"{label}_config_sizes"
            out[key] = {"probe_examples_per_dataset": p["cossim_examples" if "cossim" in label else "diff_examples"],
                        "reward_ms": round(1e3 * reward, 3), "n_updates": n_updates,
                        "floor_probe_share": round(probe_share, 4)}
    policy = ScorerPolicy(list(built["files"]), lr=float(mixes["mos_cossim"][1]["scorer_lr"]),
                          inner_steps=int(mixes["mos_cossim"][1]["inner_steps"]))
    rewards = {n: 1.0 + 0.1 * k for k, n in enumerate(built["files"])}
    scorer = best_time(lambda: policy.update(rewards), repeats=20, warmup=2)
    out["scorer_update_ms"] = round(1e3 * scorer, 3)
    for key in [k for k in out if k.startswith("mos_")]:
        e = out[key]
        e["expected_overhead"] = round(e["floor_probe_share"] + e["n_updates"] * scorer / (steps * step), 4)
    out["update_every"] = every
    return out


def scorer_paths(names: list[str], lr: float, inner_steps: int) -> dict[str, Any]:
    """The free-logit scorer's fast path against the autograd + optimizer.step() loop it replaces:
    time per update, and whether five updates leave bit-identical logits and Adam state."""
    fast, ref = (ScorerPolicy(names, lr=lr, inner_steps=inner_steps) for _ in range(2))
    same = True
    for k in range(5):
        rewards = {n: 1.0 + 0.37 * math.sin(3 * i + k) for i, n in enumerate(names)}
        fast.update(rewards)
        ref._adam_steps(torch.tensor([rewards[n] for n in names], dtype=torch.float64), inner_steps)
        a, b = fast.state_dict(), ref.state_dict()
        same &= torch.equal(a["model"]["logits"], b["model"]["logits"]) and all(
            torch.equal(a["optimizer"]["state"][0][s], b["optimizer"]["state"][0][s]) for s in b["optimizer"]["state"][0])
    r = torch.tensor([1.0 + 0.1 * i for i in range(len(names))], dtype=torch.float64)
    t_fast = best_time(lambda: fast.update(dict(zip(names, r.tolist(), strict=True))), repeats=10)
    t_ref = best_time(lambda: ref._adam_steps(r, inner_steps), repeats=10)
    return {"fast_ms": round(1e3 * t_fast, 3), "autograd_ms": round(1e3 * t_ref, 3), "bit_identical": bool(same)}


# ---------------------------------------------------------------- 3. growth with N datasets
def shard(datasets: Mapping[str, TokenizedDataset], n: int) -> tuple[dict[str, TokenizedDataset], dict[str, tuple]]:
    """N datasets: every skill split into N / (number of skills) interleaved shards. Also returns
    shard name -> (skill, original indices) to carry the base perplexities over."""
    per = n // len(datasets)
    out, origin = {}, {}
    for skill, data in datasets.items():
        for k in range(per):
            idx = list(range(k, len(data), per))
            name = skill if per == 1 else f"{skill}/{k}"
            out[name], origin[name] = data.subset(idx), (skill, idx)
    return out, origin


def shard_base_ppl(path: Path, origin: Mapping[str, tuple], out: Path) -> Path:
    """The base-perplexity CSV re-keyed to the shards (no model run needed)."""
    with open(path, newline="") as f:
        rows = {(r["dataset"], int(r["index"])): r for r in csv.DictReader(f)}
    write_csv(out, [{**rows[(skill, i)], "dataset": name, "index": j}
                    for name, (skill, idx) in origin.items() for j, i in enumerate(idx)], BASE_PPL_COLUMNS)
    return out


def fit_exponent(ns: list[int], times: list[float]) -> float:
    return float(np.polyfit(np.log(ns), np.log(times), 1)[0])


def growth(built: Mapping[str, Any], cfg: Mapping[str, Any], mixes: Mapping[str, Any], ns: list[int],
           work: Path, step_ms: float) -> dict[str, Any]:
    data, _ = load_tokenized(built["tokenized"], cfg["train"]["loss"])
    model = load_model(str(built["model"])).eval()
    pad = load_tokenizer(str(built["model"])).pad_token_id
    cossim_params, diff_params = mixes["mos_cossim"][1], mixes["mos_diff"][1]
    table: dict[str, list[float]] = {k: [] for k in ("cossim_reward_ms", "diff_reward_ms", "cosines_ms",
                                                     "scorer_update_ms", "scorer_update_autograd_ms")}
    hidden = model.config.hidden_size
    for n in ns:
        sets, origin = shard(data, n)
        csv_path = shard_base_ppl(built["base_ppl"], origin, work / "base_ppl" / f"shards{n}.csv")
        probe = Probe(model, sets, pad, seed=0, pack_length=int(cfg["train"]["pack_length"]), base_ppl=str(csv_path))
        sizes = {k: len(v) for k, v in sets.items()}
        reps = 5 if n <= 16 else 3
        for key, params in (("cossim_reward_ms", cossim_params), ("diff_reward_ms", diff_params)):
            strategy = registry.build("mos", params)
            strategy.initial_weights(sizes)
            table[key].append(1e3 * best_time(lambda s=strategy, p=probe: s.rewards(p), repeats=reps))
        z = {k: torch.randn(hidden, generator=torch.Generator().manual_seed(i), dtype=torch.float64)
             for i, k in enumerate(sets)}
        table["cosines_ms"].append(1e3 * best_time(lambda z=z: R.cossim_rewards(z), repeats=50))
        paths = scorer_paths(list(sets), float(cossim_params["scorer_lr"]), int(cossim_params["inner_steps"]))
        table["scorer_update_ms"].append(paths["fast_ms"])
        table["scorer_update_autograd_ms"].append(paths["autograd_ms"])
        log(f"  N={n:<3} cossim {table['cossim_reward_ms'][-1]:8.1f} ms  diff {table['diff_reward_ms'][-1]:7.1f} ms  "
            f"cosines {table['cosines_ms'][-1]:.3f} ms  scorer {paths['fast_ms']:.1f} ms "
            f"(autograd {paths['autograd_ms']:.1f} ms, bit-identical {paths['bit_identical']})")
    out: dict[str, Any] = {"n_datasets": ns, **{k: [round(v, 3) for v in vals] for k, vals in table.items()},
                           "exponents": {k: round(fit_exponent(ns, vals), 2) for k, vals in table.items()},
                           "train_step_ms": step_ms}
    # one update (COSSIM reward + scorer) in training steps, per update interval
    out["cossim_update_in_train_steps"] = [round((c + s) / step_ms, 2) for c, s in
                                           zip(table["cossim_reward_ms"], table["scorer_update_ms"], strict=True)]
    return out


# ---------------------------------------------------------------- report
def print_report(rep: Mapping[str, Any]) -> None:
    runs, fl, g = rep["runs"], rep["floor"], rep["growth"]
    log(f"\nMoS vs uniform, {rep['backbone']}, {rep['train']['steps']} steps x batch {rep['train']['batch_size']}, "
        f"update every {fl['update_every']}, {rep['repeats']} repeats in lockstep, {rep['threads']} thread")
    log(f"{'arm':<11} {'loop s':>8} {'ratio':>7} {'cpu':>7} {'replay':>7} {'vs rpl':>7} {'in-run':>7} {'floor':>7} "
        f"{'expected':>9} {'tokens':>8}")
    for label, e in runs.items():
        if label == "uniform":
            log(f"{label:<11} {e['median_loop_seconds']:8.2f} {'1':>7} {'1':>7} {'':>7} {'':>7} {'':>7} {'':>7} {'':>9} "
                f"{e['tokens']:>8,}")
            continue
        f, rp = fl[label], e["replay"]
        log(f"{label:<11} {e['median_loop_seconds']:8.2f} {e['median_ratio']:7.3f} {e['median_cpu_ratio']:7.3f} "
            f"{rp['median_ratio_vs_uniform']:7.3f} {rp['median_ratio']:7.3f} {1 + e['in_run_overhead']:7.3f} "
            f"{1 + f['floor_probe_share']:7.3f} {1 + f['expected_overhead']:9.3f} {e['tokens']:>8,}")
    log(f"ratio: median wall-time ratio of the loop to uniform's (target <= {TARGET_RATIO}, paper ~{PAPER['overhead_ratio']}); "
        "cpu: the same in CPU seconds; replay: the twin that trains on the same batches without the updates, "
        "vs uniform; vs rpl: MoS / its replay (the updates' cost at equal data); in-run: 1 + update time / rest of "
        "the same run; floor: 1 + probe forwards alone; expected: floor + scorer updates (isolated timings)")
    log(f"isolated: train step {fl['train_step_ms']:.1f} ms, scorer update {fl['scorer_update_ms']:.1f} ms; rewards "
        + ", ".join(f"{k} {v['reward_ms']:.1f} ms ({v['probe_examples_per_dataset']}/dataset, overhead x{1 + v['expected_overhead']:.3f})"
                    for k, v in fl.items() if k.startswith("mos_")))
    log(f"\nGrowth with N datasets (exponent k of t ~ N^k), train step {g['train_step_ms']:.1f} ms")
    keys = ["cossim_reward_ms", "diff_reward_ms", "cosines_ms", "scorer_update_ms", "scorer_update_autograd_ms"]
    log(f"{'N':>4} " + " ".join(f"{k.removesuffix('_ms'):>16}" for k in keys))
    for i, n in enumerate(g["n_datasets"]):
        log(f"{n:>4} " + " ".join(f"{g[k][i]:>16.3f}" for k in keys))
    log(f"{'k':>4} " + " ".join(f"{g['exponents'][k]:>16.2f}" for k in keys))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--backbone", default="tiny-llama", help="a tiny backbone of the config (the LLaMA-3-8B stand-in)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of every arm")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the config's)")
    ap.add_argument("--cossim-examples", type=int, default=None, help="default: the paper's 4%% probe ratio")
    ap.add_argument("--diff-examples", type=int, default=None, help="default: COSSIM's size x 16/64")
    ap.add_argument("--n-datasets", type=int, nargs="+", default=[4, 16, 64])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=None, help="build folder to keep and reuse (default: a temporary one)")
    ap.add_argument("--out", default="results/benchmarks/mos_overhead.json")
    args = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    train = mixture_train(cfg, "uniform")
    if args.steps:
        train = {**train, "steps": args.steps}
    every = int(strategy_params(cfg, "mos_cossim")["update_every"])
    # the paper's probe share of the training examples, scaled to this testbed's update interval
    paper_share = PAPER["datasets"] * PAPER["probe_examples_per_dataset"] / (PAPER["update_every"] * PAPER["batch_size"])
    per_update = every * int(train["batch_size"])
    cossim_n = args.cossim_examples or max(1, round(paper_share * per_update / len(cfg["datasets"])))
    diff_n = args.diff_examples or max(1, round(cossim_n * PAPER["diff_examples_in_code"] / PAPER["probe_examples_per_dataset"]))
    mixes = arms(cfg, cossim_n, diff_n)
    config_sizes = {"cossim_examples": int(strategy_params(cfg, "mos_cossim")["cossim_examples"]),
                    "diff_examples": int(strategy_params(cfg, "mos_diff")["diff_examples"])}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log(f"building in {work} ...")
        with contextlib.redirect_stderr(io.StringIO()):  # progress bars of the pretraining
            built = prepare(work, cfg, args.backbone, args.threads)
        log(f"  built: {built['build_seconds'] or 'reused'}")
        log(f"1. MoS vs uniform: {cossim_n} COSSIM / {diff_n} DIFF probe examples per dataset every {every} steps "
            f"of batch {train['batch_size']} ({len(cfg['datasets']) * cossim_n / per_update:.1%} of the training examples)")
        results = compare_runs(built, args.backbone, mixes, train, every, args.repeats, work)
        load.append(os.getloadavg()[0])
        log("2. floor (isolated timings)")
        fl = floor(built, args.backbone, mixes, train, config_sizes, work, args.repeats)
        log("3. growth with the number of datasets")
        g = growth(built, cfg, mixes, args.n_datasets, work, fl["train_step_ms"])
        load.append(os.getloadavg()[0])
        report = {
            "what": "MoS (COSSIM, DIFF) vs uniform at equal optimizer steps; probe floor; growth with N datasets",
            "command": "python scripts/benchmark_mos_overhead.py" + (f" --repeats {args.repeats}" if args.repeats != 3 else ""),
            "backbone": args.backbone, "threads": args.threads, "repeats": args.repeats,
            "train": {k: train[k] for k in ("steps", "batch_size", "micro_batch_size", "loss", "pack_length")},
            "probe": {"paper": {**PAPER, "probe_share_of_training_examples": paper_share},
                      "here": {"update_every": every, "training_examples_per_update": per_update,
                               "cossim_examples": cossim_n, "diff_examples": diff_n,
                               "probe_share_of_training_examples": len(cfg["datasets"]) * cossim_n / per_update},
                      "config_defaults": config_sizes},
            "mos_params": {k: v[1] for k, v in mixes.items() if k != "uniform"},
            "target_ratio": TARGET_RATIO,
            "runs": summarize_runs(results),
            "floor": fl,
            "scorer_fast_path": scorer_paths(list(built["files"]), float(mixes["mos_cossim"][1]["scorer_lr"]),
                                             int(mixes["mos_cossim"][1]["inner_steps"])),
            "growth": g,
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
