"""Reruns on one machine are bit-identical: the same job spec trained twice from scratch gives the
same weights, logs and trajectory, and evaluating the two models gives the same metrics; and every
run records what decides whether another machine can give the same bits (README, "Reproducibility").

    pytest tests/test_reproducibility.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from mos.common.provenance import hardware
from mos.evaluation.evaluate import evaluate, validate_spec
from mos.training.jobs import train
from tests.helpers import train_spec


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "model.safetensors"))


def test_a_rerun_gives_identical_weights_logs_and_metrics(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=6, checkpoint_every=0)
    spec["mixture"] = {"name": "proportional", "strategy": "temperature", "params": {"tau": 1.0}}
    first, second = tmp_path / "first", tmp_path / "second"
    info = [train(spec, out, threads=1) for out in (first, second)]
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "weights differ between reruns"
    for name in ("train_log.csv", "trajectory.csv"):
        log_a = [line.rsplit(",", 1)[0] if name == "train_log.csv" else line  # drop the wall-clock column
                 for line in (first / name).read_text().splitlines()]
        log_b = [line.rsplit(",", 1)[0] if name == "train_log.csv" else line
                 for line in (second / name).read_text().splitlines()]
        assert log_a == log_b, name
    assert info[0]["final_weights"] == info[1]["final_weights"] and info[0]["tokens"] == info[1]["tokens"]
    eval_spec = {"model": str(first / "model"), "benchmarks": {"testbed_mc": str(testbed_dir / "eval" / "mc.jsonl")},
                 "batch_size": 16}
    rows_a = evaluate(validate_spec(eval_spec), first / "eval", threads=1)
    rows_b = evaluate(validate_spec({**eval_spec, "model": str(second / "model")}), second / "eval", threads=1)
    assert rows_a and rows_a == rows_b


def test_every_run_records_what_decides_bit_identity(tiny_model_dir, testbed_dir, tmp_path):
    info = train(train_spec(tiny_model_dir, testbed_dir, steps=2, checkpoint_every=0), tmp_path / "run", threads=1)
    hw = info["provenance"]["hardware"]
    for key in ("cpu_model", "cpu_isa", "torch", "torch_git", "torch_cpu_capability", "torch_threads", "fingerprint"):
        assert key in hw, key
    assert hw["torch_threads"] == 1 and hw["torch"] == torch.__version__
    assert hw["fingerprint"] == hardware()["fingerprint"]  # same process, same machine, same thread count
    assert info["provenance"]["git_commit"]


def test_a_cell_of_runs_in_one_process_equals_each_run_alone(tiny_model_dir, testbed_dir, tmp_path):
    """`python -m mos train --spec A --out A --spec B --out B` (the workflow's one job per cell) gives each run
    exactly what it gives alone, writes the cell's marker, and a second call trains nothing."""
    import json

    from mos.training.jobs import main

    specs = []
    for seed, mixture in ((0, {"name": "u", "strategy": "temperature", "params": {"tau": "inf"}}),
                          (1, {"name": "p", "strategy": "temperature", "params": {"tau": 1.0}})):
        spec = train_spec(tiny_model_dir, testbed_dir, steps=4, checkpoint_every=0)
        specs.append({**spec, "mixture": mixture, "seed": seed})
    alone = [tmp_path / "alone0", tmp_path / "alone1"]
    for spec, out in zip(specs, alone, strict=True):
        train(spec, out, threads=1)
    cell = [tmp_path / "cell0", tmp_path / "cell1"]
    args = [a for spec, out in zip(specs, cell, strict=True) for a in ("--spec", json.dumps(spec), "--out", str(out))]
    main([*args, "--threads", "1", "--done", str(tmp_path / "trained.json")])
    for a, b in zip(alone, cell, strict=True):
        wa, wb = weights(a), weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa), "a run trained in a cell differs from the run alone"
    marker = json.loads((tmp_path / "trained.json").read_text())
    assert [r["out"] for r in marker["runs"]] == [str(c) for c in cell]
    stamp = (cell[0] / "run.json").stat().st_mtime_ns
    main([*args, "--threads", "1"])  # finished runs with the same spec are skipped
    assert (cell[0] / "run.json").stat().st_mtime_ns == stamp
    changed = [*args[:-1], str(tmp_path / "other")]  # a new folder for the second spec: it trains
    main([*changed, "--threads", "1"])
    assert (tmp_path / "other" / "run.json").exists()
