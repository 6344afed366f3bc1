"""A seeded, stratified subsample of a benchmark file, for experiments that cannot afford all of it
(`eval.max_items`; real checkpoints on a CPU, config/real.yaml).

    python -m mos subset-benchmark --data resources/mmlu_dev/mmlu_dev.jsonl --n 57 --seed 0 \
        --out resources/real/benchmarks/mmlu_dev.jsonl

Items are grouped by their stratum (the first of `subject`, `category`, `level` that the file's
items carry; one group otherwise), each group is shuffled with the seed, and the groups are dealt
round-robin (in name order) until `n` items are taken, so 57 of MMLU dev's 281 questions are one
per subject and 16 of the testbed's 80 two-turn prompts are two per category. The chosen lines are
written unchanged, in their original order; a file with at most `n` items is copied whole.
Evaluation, judging and win rates all read the subsample, so they grade the same items.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path

from mos.common.io import atomic_write_text
from mos.data.records import DataError

STRATA = ("subject", "category", "level")


def choose(items: Sequence[dict], n: int, seed: int) -> list[int]:
    """Indices (ascending) of the stratified subsample of `n` items."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if len(items) <= n:
        return list(range(len(items)))
    key = next((k for k in STRATA if all(k in item for item in items)), None)
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(str(item[key]) if key else "", []).append(i)
    rng = random.Random(f"subset-{seed}")
    queues = []
    for name in sorted(groups):
        members = list(groups[name])
        rng.shuffle(members)
        queues.append(members)
    chosen: list[int] = []
    while len(chosen) < n:
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return sorted(chosen)


def subset_file(data: str | Path, n: int, seed: int, out: str | Path) -> int:
    """Write the subsample of a JSONL benchmark file; returns how many items it has."""
    lines = [line for line in Path(data).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = []
    for lineno, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{data}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(item, dict):
            raise DataError(f"{data}:{lineno}: expected a JSON object")
        items.append(item)
    if not items:
        raise DataError(f"{data}: no items")
    keep = choose(items, n, seed)
    atomic_write_text(out, "".join(lines[i] + "\n" for i in keep))
    return len(keep)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the benchmark's JSONL file")
    ap.add_argument("--n", type=int, required=True, help="items to keep")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    kept = subset_file(args.data, args.n, args.seed, args.out)
    print(f"{args.data}: {kept} items -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
