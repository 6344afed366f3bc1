"""Atomic file output: nothing half-written is ever left where a finished file is expected.

Every writer goes through a temporary name in the same folder and `os.replace`, so a killed job
leaves either the old file or the new one. `atomic_dir` does the same for whole folders (model
directories, checkpoints).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

BOM = b"\xef\xbb\xbf"  # the UTF-8 byte-order mark


def utf8_problem(path: str | os.PathLike) -> str | None:
    """`file:line: not valid UTF-8 (byte 0x.. at column N)` for the first byte of a file that is not
    UTF-8 (the column counts bytes, 1-based; a byte-order mark at the start of the file is allowed),
    or None if all of it is."""
    data = Path(path).read_bytes()
    bom = len(BOM) if data.startswith(BOM) else 0
    try:
        data[bom:].decode("utf-8")
        return None
    except UnicodeDecodeError as e:
        bad = bom + e.start
    head = data[bom:bad]  # lines as text mode counts them: \n, \r\n and \r each end one
    line = head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
    column = len(head) - max(head.rfind(b"\n"), head.rfind(b"\r"))
    return f"{path}:{line}: not valid UTF-8 (byte 0x{data[bad]:02x} at column {column})"


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file's content, without a leading byte-order mark; bytes that are not UTF-8 raise
    ValueError naming the file, line and byte (see utf8_problem)."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(utf8_problem(path) or f"{path}: not valid UTF-8") from None


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write dict rows with a fixed column order; None and NaN become empty cells. A path ending in
    `.gz` is gzip-compressed with a zero timestamp, so equal rows give equal bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    raw = open(tmp, "wb")  # noqa: SIM115 -- closed below, after the gzip layer
    try:
        binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if path.suffix == ".gz" else raw
        with io.TextIOWrapper(binary, encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            for row in rows:
                w.writerow([_cell(row.get(c)) for c in columns])
    finally:
        raw.close()
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `path` as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(f".{path.name}.old{os.getpid()}")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    if old.exists():
        shutil.rmtree(old)


def json_safe(value: Any) -> Any:
    """Replace infinities by "inf"/"-inf" (strategies parse them back) so specs are strict JSON."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
