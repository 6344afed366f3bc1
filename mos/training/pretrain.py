"""Pretrain a tiny backbone once on the testbed's generic corpus, giving the θ0 every strategy
fine-tunes from (and that the DIFF reward compares against).

    python -m mos pretrain --spec @pretrain.json --out resources/default/backbones/tiny-llama

The model is built from its family config with a seeded random init, then trained with the same
loop as fine-tuning (`mos.training.loop`), next-token loss on every token, on the spec's `corpus` (plain
documents) and, when the spec names one, its `dialogues` (conversations in the record format,
rendered with the backbone's chat template), sampled in proportion to their sizes.
The pretrained model is written to <out>/model, with <out>/train_log.csv and <out>/run.json.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mos.common.io import atomic_dir
from mos.common.spec import read_spec
from mos.data.tokenizer import load_tokenizer_dir
from mos.models.backbones import build_tiny, count_parameters
from mos.training.jobs import train

DEFAULTS = {"warmup_ratio": 0.05, "weight_decay": 0.1, "adam_betas": [0.9, 0.95], "grad_clip": 1.0,
            "checkpoint_every": 0, "log_every": 10}


def fine_tune_spec(spec: Mapping[str, Any], init_dir: Path) -> dict[str, Any]:
    """The `mos.training.loop` job that pretrains: a 'corpus' dataset of plain documents, plus a 'dialogues'
    dataset of conversations when the spec has one (sampled in proportion to size, τ = 1)."""
    p = {**DEFAULTS, **spec["pretrain"]}
    seed = int(p.pop("seed", 0))
    pack_length = int(p.pop("pack_length"))
    train_settings = {**p, "micro_batch_size": p.get("micro_batch_size", p["batch_size"]), "loss": "all",
                      "sampling_unit": "example", "max_length": pack_length, "pack_length": pack_length}
    return {
        "backbone": spec["backbone"]["name"],
        "model": str(init_dir),
        "datasets": {"corpus": {"path": spec["corpus"], "format": "documents"},
                     **({"dialogues": {"path": spec["dialogues"], "format": "records"}} if spec.get("dialogues") else {})},
        "mixture": {"name": "pretrain", "strategy": "temperature", "params": {"tau": 1.0}},
        "train": train_settings,
        "seed": seed,
    }


def pretrain(spec: Mapping[str, Any], out: str | Path, threads: int | None = None) -> dict[str, Any]:
    out = Path(out)
    tokenizer = load_tokenizer_dir(spec["tokenizer"])
    model = build_tiny(spec["backbone"], tokenizer, seed=int(spec["pretrain"].get("seed", 0)))
    init_dir = out / "init"
    with atomic_dir(init_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    info = train(fine_tune_spec(spec, init_dir), out, threads)
    shutil.rmtree(init_dir, ignore_errors=True)
    print(f"{spec['backbone']['name']}: {count_parameters(model):,} parameters, "
          f"final loss {info.get('final_loss', float('nan')):.3f}")
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="pretrain spec as JSON or @file.json")
    ap.add_argument("--out", required=True, help="backbone folder (the model goes to <out>/model)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    pretrain(read_spec(args.spec), args.out, args.threads)


if __name__ == "__main__":
    main()
