"""Short CPU runs of every built-in strategy, fingerprinted, to show that a change leaves existing
results bit for bit as they were (issue 11: "existing strategies' results must not change").

    python scripts/strategy_fingerprints.py run /tmp/new.json            # in this checkout
    (cd /path/to/other/checkout && python /path/to/scripts/strategy_fingerprints.py run /tmp/old.json)
    python scripts/strategy_fingerprints.py compare /tmp/old.json /tmp/new.json

`run` builds the tests' small testbed, tokenizer and tiny Llama once (in --fixtures), computes θ0's
perplexities, and trains 9 steps (scorer updates every 3) of each strategy, some also with
`sampling_unit: batch` and `loss: all`; it records the base perplexities, the final loss, the
trajectory, the train log and a hash of the final weights. It imports `mos` from the working
directory, so run it from the root of the checkout to fingerprint. `compare` prints IDENTICAL or what
differs, with the largest relative difference of the trajectory's weights and rewards.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())  # the checkout to fingerprint

MIXTURES = {
    "uniform": ("temperature", {"tau": "inf"}),
    "prop": ("temperature", {"tau": 1}),
    "fixed": ("fixed", {"weights": {"Mathematics": 0.7, "Medicine": 0.1, "General": 0.1, "NLP": 0.1}}),
    "mos_cossim_ema": ("mos", {"reward": "cossim", "ema": True, "update_every": 3, "scorer_lr": 1e-2,
                               "cossim_examples": 8}),
    "mos_diff": ("mos", {"reward": "diff", "update_every": 3, "scorer_lr": 1e-2, "diff_examples": 8, "prior_tau": 10.0}),
    "mos_diff_resp": ("mos", {"reward": "diff", "update_every": 3, "scorer_lr": 1e-2, "diff_examples": 8,
                              "ppl_scope": "response"}),
    "mospec_diff_ema": ("mospec", {"reward": "diff", "ema": True, "update_every": 3, "scorer_lr": 1e-2,
                                   "diff_examples": 8, "target": "Mathematics"}),
    "mospec_cossim": ("mospec", {"reward": "cossim", "update_every": 3, "scorer_lr": 1e-2, "cossim_examples": 8,
                                 "target": "Medicine"}),
    "multidds": ("multidds", {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2, "grad_examples": 4,
                              "validation_examples": 2}),
    "multiuat": ("multiuat", {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2, "validation_examples": 2}),
    "multiuat_ppl": ("multiuat", {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2, "validation_examples": 2,
                                  "uncertainty": "ppl"}),
    "mos_mlp_reinforce": ("mos", {"reward": "cossim", "scorer": "mlp", "update_rule": "reinforce", "update_every": 3,
                                  "scorer_lr": 0.5, "cossim_examples": 4}),
}
VARIANTS = {"": {}, "+batch+all": {"sampling_unit": "batch", "loss": "all"}}
WITH_VARIANTS = ("uniform", "mos_diff", "multidds")
SKILLS = ["Mathematics", "Medicine", "General", "NLP"]


def fixtures(folder: Path) -> Path:
    """The tests' testbed (scale 0.01), tokenizer (512) and randomly initialised tiny Llama."""
    from mos.data.testbed.build import TestbedConfig, build
    from mos.data.tokenizer import load_tokenizer_dir, train_tokenizer, training_texts
    from mos.models.backbones import build_tiny

    if not (folder / "model").exists():
        build(TestbedConfig(seed=0, scale=0.01, corpus_docs=400, mc_math=20, mc_general=20, mc_nlp_per_task=3,
                            chat_per_category=2, word_problems=10), folder / "tb")
        train_tokenizer(training_texts(folder / "tb"), 512).save_pretrained(folder / "tok")
        tok = load_tokenizer_dir(folder / "tok")
        model = build_tiny({"name": "tiny", "family": "llama", "hidden_size": 32, "num_layers": 2, "num_heads": 2,
                            "intermediate_size": 64}, tok, seed=0)
        model.save_pretrained(folder / "model")
        tok.save_pretrained(folder / "model")
    return folder


def run(out: Path, fixture_dir: Path) -> None:
    import torch

    import mos
    from mos.training.base_ppl import main as base_ppl_main
    from mos.training.jobs import train
    from tests.helpers import train_spec

    torch.set_num_threads(1)
    print(f"fingerprinting {Path(mos.__file__).parent}")
    fix = fixtures(fixture_dir)
    work = out.with_suffix(".d")
    work.mkdir(parents=True, exist_ok=True)
    ppl = work / "base.csv"
    base_ppl_main(["--spec", json.dumps({"model": str(fix / "model"), "max_length": 128, "pool_size": 40, "seed": 0,
                   "datasets": {s: str(fix / "tb" / "train" / f"{s}.jsonl") for s in SKILLS}}), "--out", str(ppl)])
    result = {"base_ppl": ppl.read_text()}
    for label, (strategy, params) in MIXTURES.items():
        for variant, overrides in VARIANTS.items():
            if variant and label not in WITH_VARIANTS:
                continue
            spec = train_spec(fix / "model", fix / "tb", steps=9, checkpoint_every=0, log_every=1, **overrides)
            spec["mixture"] = {"name": label, "strategy": strategy, "params": params}
            spec["base_ppl"] = str(ppl)
            folder = work / (label + variant)
            info = train(spec, folder)
            with open(folder / "train_log.csv", newline="") as f:
                log = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]
            result[label + variant] = {
                "final_loss": info["final_loss"], "final_weights": info["final_weights"],
                "trajectory": (folder / "trajectory.csv").read_text(), "train_log": log,
                "model_sha": hashlib.sha256((folder / "model" / "model.safetensors").read_bytes()).hexdigest()}
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


def compare(a_path: Path, b_path: Path) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    columns = lambda text: [line.split(",")[:6] for line in text.splitlines()]  # noqa: E731  (the base CSV's first six)
    print(f"{'base perplexities':24s} {'IDENTICAL' if columns(a['base_ppl']) == columns(b['base_ppl']) else 'DIFFERENT'}")
    differs = 0
    for key in a:
        if key == "base_ppl":
            continue
        same = {field: a[key][field] == b[key][field] for field in a[key]}
        if all(same.values()):
            print(f"{key:24s} IDENTICAL")
            continue
        differs += 1
        rows = zip(csv.DictReader(io.StringIO(a[key]["trajectory"])), csv.DictReader(io.StringIO(b[key]["trajectory"])),
                   strict=True)
        worst = {"weight": 0.0, "reward": 0.0}
        for x, y in rows:
            for field in worst:
                if x[field] and y[field]:
                    worst[field] = max(worst[field], abs(float(x[field]) - float(y[field])) / max(abs(float(x[field])), 1e-300))
        print(f"{key:24s} differs in {[f for f, s in same.items() if not s]}; largest relative difference: {worst}")
    return 1 if differs else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--fixtures", type=Path, default=Path("/tmp/mos-fingerprint-fixtures"))
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.command == "run":
        run(args.out, args.fixtures)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
