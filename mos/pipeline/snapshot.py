"""Publish a finished run of the pipeline as the committed snapshot of its experiment.

    python -m mos snapshot results/default snapshots/default     # what `make snapshot` runs

The pipeline writes `results/<exp>/` (never committed). A snapshot is the small, reviewable part of
it — `summary/` (every number), `tables/` and `figures/` — copied to `snapshots/<exp>/`, which git
tracks, `make tables` redraws from its summaries alone, and the next `make run` compares itself with
(`tables/reproduction.md`). The copy is refused when a run was trained from a modified checkout
(its `git_commit` ends in `-dirty` in summary/runs.csv) or when the checkout itself has uncommitted
changes, so every published number names the commit that produced it; `--allow-dirty` overrides.
The destination is replaced as a whole, only once the copy is complete.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

from mos.common.io import atomic_dir

PARTS = ("summary", "tables", "figures")


class SnapshotError(RuntimeError):
    """The source is not a finished, clean run of the pipeline."""


def dirty_runs(source: Path) -> list[str]:
    """Runs of summary/runs.csv whose recorded commit is missing or `-dirty`."""
    path = source / "summary" / "runs.csv"
    if not path.is_file():
        raise SnapshotError(f"{path}: not found; run the pipeline (make run) first")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "git_commit" not in rows[0]:
        raise SnapshotError(f"{path}: no runs, or no git_commit column")
    return [f"{r['backbone']}/{r['mixture']}/seed{r['seed']} ({r['git_commit'] or 'no commit'})"
            for r in rows if not r["git_commit"] or r["git_commit"].endswith("-dirty")]


def checkout_is_dirty(root: Path) -> bool:
    """Whether tracked files of the checkout at `root` differ from HEAD (False outside git)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def publish(source: Path, destination: Path, allow_dirty: bool = False) -> list[Path]:
    """Copy summary/, tables/ and figures/ of `source` to `destination` (replaced atomically), but
    tables/reproduction.*: that compares the run with the snapshot it replaces."""
    source, destination = Path(source), Path(destination)
    missing = [p for p in PARTS if not (source / p).is_dir()]
    if missing:
        raise SnapshotError(f"{source}: no {', '.join(missing)} folder(s); run the pipeline to the end first")
    if not allow_dirty:
        dirty = dirty_runs(source)
        if dirty:
            raise SnapshotError(f"{len(dirty)} run(s) were trained from a modified checkout, e.g. {dirty[0]}: "
                                "commit, rerun, then publish (or pass --allow-dirty)")
        if checkout_is_dirty(Path.cwd()):
            raise SnapshotError("the checkout has uncommitted changes: commit them first (or pass --allow-dirty)")
    with atomic_dir(destination) as tmp:
        for part in PARTS:  # not the run's comparison with the snapshot it replaces (tables/reproduction.*)
            shutil.copytree(source / part, Path(tmp) / part, ignore=shutil.ignore_patterns("reproduction.*"))
    return [destination / p for p in PARTS]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="a finished run of the pipeline, e.g. results/default")
    ap.add_argument("destination", help="the committed snapshot, e.g. snapshots/default")
    ap.add_argument("--allow-dirty", action="store_true", help="publish runs of a modified checkout anyway")
    args = ap.parse_args(argv)
    try:
        written = publish(Path(args.source), Path(args.destination), args.allow_dirty)
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("published " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
