"""Command line of the testbed generator.

    python -m mos testbed --seed 0 --scale 0.1 --out resources/default/testbed
    python -m mos testbed --seed 0 --scale 0.1 --chat-per-category 25 --out DIR   # bigger evaluation sets
"""

from __future__ import annotations

import argparse
import json

from mos.data.testbed.build import TestbedConfig, build


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate the skills testbed (training sets, eval sets, corpus).")
    ap.add_argument("--seed", type=int, default=0, help="data seed (one seed = one world)")
    ap.add_argument("--scale", type=float, default=0.1, help="dataset sizes = scale x paper Table 1 counts")
    sizes = {"mc_math": "multiple-choice arithmetic items", "mc_general": "multiple-choice General items",
             "mc_nlp_per_task": "multiple-choice items per NLP task", "chat_per_category": "two-turn prompts per category",
             "word_problems": "math word problems (testbed_math)"}
    for key, what in sizes.items():
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=getattr(TestbedConfig, key),
                        help=f"evaluation set size: {what} (default %(default)s)")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    info = build(TestbedConfig(seed=args.seed, scale=args.scale, **{k: getattr(args, k) for k in sizes}), args.out)
    print(json.dumps({k: info[k] for k in ("train_sizes", "overlap_check")}, indent=None))


if __name__ == "__main__":
    main()
