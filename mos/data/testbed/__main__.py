"""Command line of the testbed generator.

    python -m mos testbed --seed 0 --scale 0.1 --out resources/default/testbed
"""

from __future__ import annotations

import argparse
import json

from mos.data.testbed.build import TestbedConfig, build


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Generate the skills testbed (training sets, eval sets, corpus).")
    ap.add_argument("--seed", type=int, default=0, help="data seed (one seed = one world)")
    ap.add_argument("--scale", type=float, default=0.1, help="dataset sizes = scale x paper Table 1 counts")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    info = build(TestbedConfig(seed=args.seed, scale=args.scale), args.out)
    print(json.dumps({k: info[k] for k in ("train_sizes", "overlap_check")}, indent=None))


if __name__ == "__main__":
    main()
