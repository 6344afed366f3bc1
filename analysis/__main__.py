"""Regenerate every table and figure of an experiment from results/ alone: no training, no resources/.

    python -m analysis snapshots/default                  # every script below, on the committed snapshot, in this order
    python -m analysis results/default --only table6_ppl  # some of them, on a fresh run
    python -m analysis --list                             # the scripts and what each writes

Runs the `write_all(results/<exp>)` of each analysis script on the committed summaries
(results/<exp>/summary/*.csv) and the paper's numbers (results/paper/): Tables 1, 2, 3, 5 and 6,
Figures 2, 3 and 4, the scorecard, the power table, the leaderboard and the headline text of the README, as Markdown + CSV + LaTeX tables in results/<exp>/tables/ and
PNG + PDF figures in results/<exp>/figures/ (what `snakemake` regenerates after a run, without the
jobs before it). A script whose input is absent (e.g. summary/ppl.csv of an older run) writes the
paper's rows with a note instead of failing. A failing script is reported and the others still run;
the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from analysis import common

# In dependency order: tables, figures, the scorecard and power table, then the headline (reads the tables).
SCRIPTS = {
    "table1_datasets": "Table 1: dataset statistics (summary/datasets.csv)",
    "table2_main": "Table 2: µMU and MMLU groups / skills per benchmark",
    "table3_priors": "Table 3: sampling priors of MoS",
    "table5_mospec": "Table 5: MoSpec vs generalists and the math-only model",
    "table6_ppl": "Table 6: perplexity study (summary/ppl.csv)",
    "winrate": "Win rates against the reference mixture (summary/winrate.csv)",
    "table_transfer": "Transfer matrix: every skill's accuracy after training on one skill alone",
    "fig2_weights": "Figure 2: learned sampling probabilities of MoS (+ start/end table)",
    "fig3_loss": "Figure 3: training loss (+ final-loss table)",
    "fig4_mospec_weights": "Figure 4: learned sampling probabilities of MoSpec (+ start/end table)",
    "scorecard": "Replication scorecard: verdicts on the pre-declared claims (summary/claims.json)",
    "power": "Power of the pre-declared primary comparisons",
    "leaderboard": "Leaderboard: every method x backbone against the baseline, with its cost",
    "headline": "The README's results text, from the tables above (tables/headline.md)",
}


def regenerate(exp: Path, names: Sequence[str] = tuple(SCRIPTS)) -> dict[str, list[Path] | BaseException]:
    """Run each named script's write_all on `exp`; returns name -> written paths, or the exception raised."""
    out: dict[str, list[Path] | BaseException] = {}
    for name in names:
        try:
            module = importlib.import_module(f"analysis.{name}")
            out[name] = [Path(p) for p in module.write_all(Path(exp))]
        except Exception as e:  # noqa: BLE001 - report and go on with the other scripts
            traceback.print_exc()
            out[name] = e
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    ap.add_argument("experiment", nargs="?", default=str(common.DEFAULT_EXPERIMENT),
                    help="results/<exp> folder with a summary/ folder (default: snapshots/default, the committed snapshot)")
    ap.add_argument("--only", nargs="+", choices=list(SCRIPTS), metavar="SCRIPT", help="run only these scripts")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(f"{name:22s}{what}" for name, what in SCRIPTS.items()))
        return 0
    try:
        exp = common.experiment_dir([args.experiment])
    except FileNotFoundError as e:
        print(f"python -m analysis: error: {e}", file=sys.stderr)
        return 2
    names = [n for n in SCRIPTS if not args.only or n in args.only]
    t0 = time.perf_counter()
    results = regenerate(exp, names)
    failed = [n for n, r in results.items() if isinstance(r, BaseException)]
    for name, result in results.items():
        status = f"FAILED: {result}" if isinstance(result, BaseException) else f"{len(result)} files"
        print(f"{name:22s}{status}")
    print(f"{len(results) - len(failed)} of {len(results)} scripts in {time.perf_counter() - t0:.1f} s -> "
          f"{exp / 'tables'}, {exp / 'figures'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
