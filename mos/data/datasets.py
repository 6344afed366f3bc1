"""Materialise one training dataset in the record format, validated, before any training starts.

    python -m mos dataset --testbed resources/default/testbed --skill Medicine --out resources/default/datasets/Medicine.jsonl
    python -m mos dataset --path my_data.jsonl --out resources/default/datasets/Mine.jsonl
    python -m mos dataset --hub TIGER-Lab/MathInstruct --adapter mathinstruct --fraction 0.1 --out .../Mathematics.jsonl
    python -m mos dataset --hub bigscience/P3 --adapter p3 --per-subset 1000 --fraction 0.1 --out .../NLP.jsonl
    python -m mos dataset --hub anon8231489123/ShareGPT_Vicuna_unfiltered --data-files ShareGPT_V3_unfiltered_cleaned_split.json \
        --adapter sharegpt --fraction 0.1 --out .../General.jsonl

A bad file stops here with the file, the line and what was expected. Hub datasets go through an
adapter to the record format (the paper's four sources); `--hub` also takes a local file or folder
with the same columns, which is how the adapters are tested offline. With `--per-subset` (P3) each
subset is streamed on its own and only its first `--subset-window` rows are read (load_hub_rows).
`--data-files` names the files of a hub repository to read (paths or globs inside it) where the
repository holds several versions of one dataset (ShareGPT_Vicuna_unfiltered: the cleaned split, a
variant without "I'm sorry" replies, the raw HTML dumps): without it all of them would be read as one.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.data.records import DataError, Record, load_records, utf8_error, validate_record, write_jsonl

Adapter = Callable[[Mapping[str, Any], int], Record | None]


def _chat(idx: int, source: str, *turns: str) -> Record:
    roles = ["user", "assistant"] * len(turns)
    return {"id": f"{source}-{idx}", "source": source,
            "conversations": [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]}


def mathinstruct(row: Mapping[str, Any], idx: int) -> Record | None:
    """TIGER-Lab/MathInstruct: instruction -> output; `source` names the origin set."""
    if not row.get("instruction") or not row.get("output"):
        return None
    return _chat(idx, str(row.get("source") or "mathinstruct"), row["instruction"], row["output"])


def medinstruct(row: Mapping[str, Any], idx: int) -> Record | None:
    """casey-martin/MedInstruct (Alpaca style): instruction (+ input) -> output."""
    prompt = "\n\n".join(x for x in (row.get("instruction"), row.get("input")) if x)
    if not prompt or not row.get("output"):
        return None
    return _chat(idx, "medinstruct", prompt, row["output"])


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bard": "assistant",
                  "assistant": "assistant", "system": "system"}


def sharegpt(row: Mapping[str, Any], idx: int) -> Record | None:
    """ShareGPT (Vicuna format): conversations [{from, value}]; broken role orders are dropped,
    a trailing user turn is cut."""
    msgs = [{"role": SHAREGPT_ROLES.get(m.get("from", ""), "?"), "content": m.get("value") or ""}
            for m in row.get("conversations") or []]
    if msgs and msgs[-1]["role"] == "user":
        msgs = msgs[:-1]
    rec = {"id": str(row.get("id", f"sharegpt-{idx}")), "source": "sharegpt", "conversations": msgs}
    try:
        return validate_record(rec)
    except DataError:
        return None


def p3(row: Mapping[str, Any], idx: int) -> Record | None:
    """bigscience/P3: inputs_pretokenized -> targets_pretokenized; `source` is the subset."""
    x, y = row.get("inputs_pretokenized"), row.get("targets_pretokenized")
    if not x or not y or not str(y).strip():
        return None
    return _chat(idx, str(row.get("_subset", "p3")), str(x).strip(), str(y).strip())


ADAPTERS: dict[str, Adapter] = {"mathinstruct": mathinstruct, "medinstruct": medinstruct, "sharegpt": sharegpt, "p3": p3}


def adapt(rows: Iterable[Mapping[str, Any]], adapter: str) -> list[Record]:
    if adapter not in ADAPTERS:
        raise DataError(f"unknown adapter {adapter!r}; valid: {', '.join(ADAPTERS)}")
    fn = ADAPTERS[adapter]
    return [r for i, row in enumerate(rows) if (r := fn(row, i)) is not None]


def sample_fraction(records: list[Record], fraction: float, seed: int) -> list[Record]:
    """A seeded random `fraction` of the records (the paper keeps 10% of every dataset)."""
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, round(len(records) * fraction))
    chosen = sorted(random.Random(seed).sample(range(len(records)), k))
    return [records[i] for i in chosen]


def subset_sample(subset: str, n: int, per_subset: int, seed: int) -> list[int]:
    """Indices (ascending) of the `per_subset` rows kept of a subset's `n` rows: all of them when it
    has fewer, else a sample seeded by `seed` and the subset's name (independent of other subsets)."""
    return sorted(random.Random(f"{seed}-{subset}").sample(range(n), min(per_subset, n)))


WINDOW_FACTOR = 10  # default subset window: 10 x per_subset rows read from the start of each subset
# the columns an adapter reads; the others (P3's pre-tokenized `inputs`/`targets` ids) are dropped on read
ADAPTER_COLUMNS: dict[str, list[str]] = {"p3": ["inputs_pretokenized", "targets_pretokenized"]}


def _subset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def _local_rows(files: list[Path], per_subset: int | None, seed: int, window: int | None) -> list[dict[str, Any]]:
    import datasets

    if per_subset is None:
        return list(datasets.load_dataset("json", data_files=[str(f) for f in files], split="train"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        for row in datasets.load_dataset("json", data_files=[str(f)], split="train"):
            subset = row.get("_subset") or _subset_name(f)
            groups.setdefault(subset, []).append(row)
    return [row for subset, group in groups.items() for row in _pick(subset, group[:window], per_subset, seed)]


def _pick(subset: str, rows: list[dict[str, Any]], per_subset: int, seed: int) -> list[dict[str, Any]]:
    return [{**rows[i], "_subset": subset} for i in subset_sample(subset, len(rows), per_subset, seed)]


def stream_subset(source: str, subset: str, split: str, window: int,
                  columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The first `window` rows of one configuration (P3 subset) of a hub dataset, streamed: only
    what is read is downloaded. `source` is a hub id or a local folder of the hub's layout (a
    README.md whose `configs` name each subset's files), read by the same call."""
    import datasets

    stream = datasets.load_dataset(source, subset, split=split, streaming=True)
    if columns:
        stream = stream.select_columns([c for c in columns if c in (stream.column_names or columns)])
    return list(itertools.islice(stream, window))


def is_hub_layout(path: Path) -> bool:
    """A local folder laid out like a hub dataset repository (README.md with its configs)."""
    return path.is_dir() and (path / "README.md").is_file()


def load_hub_rows(name: str, split: str, per_subset: int | None, seed: int, window: int | None = None,
                  columns: Sequence[str] | None = None,
                  data_files: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a hub dataset, or of a local file/folder with the same columns.

    With `per_subset`, every configuration (P3 subset) is read on its own, streamed, and contributes
    a seeded sample of `per_subset` rows drawn uniformly from its first `window` rows (default
    10 x per_subset; the whole subset when it is shorter), so a dataset of hundreds of subsets is
    never downloaded whole (the paper's recipe: 1K per P3 subset, then 10%). A hub id and a local
    folder of the hub's layout go through the same `datasets.load_dataset(..., streaming=True)`.
    Other local data: a subset is a row's `_subset` column, else its file (`<subset>.jsonl`).
    `data_files` (paths or globs inside the repository or local folder) reads only those files,
    through the same `datasets.load_dataset(name, data_files=...)` call for a hub id and a folder."""
    import datasets

    if data_files:
        if per_subset is not None:
            raise DataError(f"{name}: data_files and per_subset cannot be combined (per_subset reads every "
                            f"configuration of the repository)")
        try:
            return list(datasets.load_dataset(name, data_files=list(data_files), split=split))
        except FileNotFoundError as e:
            raise DataError(f"{name}: data_files {list(data_files)} not found in the repository ({e})") from None

    window = WINDOW_FACTOR * per_subset if per_subset is not None and window is None else window
    if per_subset is not None and window < per_subset:
        raise DataError(f"subset window {window} is smaller than per_subset {per_subset}")
    path = Path(name)
    if per_subset is not None and (is_hub_layout(path) or not path.exists()):
        rows = []
        for subset in datasets.get_dataset_config_names(name):
            rows += _pick(subset, stream_subset(name, subset, split, window, columns), per_subset, seed)
        return rows
    if path.exists():
        files = sorted(path.glob("*.json*")) if path.is_dir() else [path]
        try:
            return _local_rows(files, per_subset, seed, window)
        except (UnicodeDecodeError, datasets.exceptions.DatasetGenerationError):
            for f in files:  # name the file, line and byte instead of the loader's bare error
                if f.suffix != ".gz" and (error := utf8_error(f)):
                    raise error from None
            raise
    return list(datasets.load_dataset(name, split=split))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--testbed", help="testbed folder; with --skill")
    src.add_argument("--path", help="a JSONL file in the record format")
    src.add_argument("--hub", help="hub dataset id (or a local file/folder with the same columns)")
    ap.add_argument("--skill", help="testbed skill: Mathematics, Medicine, General or NLP")
    ap.add_argument("--adapter", choices=sorted(ADAPTERS), help="row -> record mapping for --hub")
    ap.add_argument("--fraction", type=float, default=1.0, help="keep this random fraction (paper: 0.1)")
    ap.add_argument("--per-subset", type=int, default=None, help="rows per configuration first (P3: 1000)")
    ap.add_argument("--subset-window", type=int, default=None,
                    help="with --per-subset: draw them from the first N rows of each configuration, streamed "
                         f"(default {WINDOW_FACTOR} x per-subset)")
    ap.add_argument("--data-files", action="append", default=None,
                    help="with --hub: read only this file of the repository (a path or glob inside it; repeatable)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        if args.testbed:
            if not args.skill:
                ap.error("--testbed needs --skill")
            records = load_records(Path(args.testbed) / "train" / f"{args.skill}.jsonl")
        elif args.path:
            records = load_records(args.path)
        else:
            if not args.adapter:
                ap.error("--hub needs --adapter")
            rows = load_hub_rows(args.hub, args.split, args.per_subset, args.seed, args.subset_window,
                                 ADAPTER_COLUMNS.get(args.adapter), args.data_files)
            records = adapt(rows, args.adapter)
            if not records:
                raise DataError(f"{args.hub}: no usable rows for adapter {args.adapter!r}")
        if args.fraction < 1:
            records = sample_fraction(records, args.fraction, args.seed)
    except DataError as e:
        sys.exit(f"error: {e}")
    write_jsonl(args.out, records)
    print(f"{args.out}: {len(records)} records")


if __name__ == "__main__":
    main()
