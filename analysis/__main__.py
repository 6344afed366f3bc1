"""Regenerate every table and figure of an experiment from results/ alone: no training, no resources/.

    python -m analysis snapshots/default                  # every script, on the committed snapshot, in order
    python -m analysis results/default --only table6_ppl  # some of them, on a fresh run
    python -m analysis --list                             # the scripts, what each reads and writes

Runs the `write_all(results/<exp>)` of each script of analysis/__init__.py SCRIPTS on the committed
summaries (results/<exp>/summary/*) and the paper's numbers (results/paper/): Tables 1, 2, 3, 5 and 6,
Figures 2, 3 and 4, the scorecard, the power table, the leaderboard and the headline text of the
README, as Markdown + CSV + LaTeX tables in results/<exp>/tables/ and PNG + PDF figures in
results/<exp>/figures/ (what `snakemake` regenerates after a run, without the jobs before it). A script
whose input is absent (e.g. summary/ppl.csv of an older run) writes the paper's rows with a note
instead of failing. A script fails when it raises or does not write a file its SCRIPT declares; a
failing script is reported and the others still run; the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import analysis
from analysis import common


def missing_outputs(script: analysis.Script, exp: Path, written: Sequence[Path]) -> list[str]:
    """The files the script declares (without a `{benchmark}` placeholder) that it did not write."""
    done = {Path(p).resolve() for p in written}
    return [w for w in script.writes if "{" not in w and (Path(exp) / w).resolve() not in done]


def regenerate(exp: Path, names: Sequence[str] = analysis.SCRIPTS) -> dict[str, list[Path] | BaseException]:
    """Run each named script's write_all on `exp`; returns name -> written paths, or the exception raised."""
    out: dict[str, list[Path] | BaseException] = {}
    declared = {s.name: s for s in analysis.scripts()}
    for script in (declared[n] for n in names):
        try:
            module = importlib.import_module(f"analysis.{script.name}")
            written = [Path(p) for p in module.write_all(Path(exp))]
            missing = missing_outputs(script, exp, written)
            if missing:
                raise RuntimeError(f"{script.path}: declares {missing} in SCRIPT['writes'] but did not write "
                                   "them")
            out[script.name] = written
        except Exception as e:  # noqa: BLE001 - report and go on with the other scripts
            traceback.print_exc()
            out[script.name] = e
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    ap.add_argument("experiment", nargs="?", default=str(common.DEFAULT_EXPERIMENT),
                    help="results/<exp> folder with a summary/ folder (default: snapshots/default, the "
                         "committed snapshot)")
    ap.add_argument("--only", nargs="+", choices=list(analysis.SCRIPTS), metavar="SCRIPT",
                    help="run only these scripts")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)
    if args.list:
        for s in analysis.scripts():
            print(f"{s.name:22s}{s.what}\n{'':22s}reads {', '.join(s.reads)}; writes {', '.join(s.writes)}"
                  + (f" (workflow: when {s.when})" if s.when else ""))
        return 0
    try:
        exp = common.experiment_dir([args.experiment])
    except FileNotFoundError as e:
        print(f"python -m analysis: error: {e}", file=sys.stderr)
        return 2
    names = [n for n in analysis.SCRIPTS if not args.only or n in args.only]
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
