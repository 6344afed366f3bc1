"""The record format shared by every dataset, and a JSONL reader that rejects bad input early.

A record is one conversation:
    {"id": str, "conversations": [{"role": "user"|"assistant", "content": str}, ...], "source": str}
Roles alternate user/assistant, start with user (after an optional system message) and end with
the assistant. Errors name the file and the line, so a broken dataset stops a run before training.

    python -m mos records path/to/data.jsonl     # validate a file, print a one-line summary
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mos.common.io import utf8_problem

Record = dict[str, Any]


class DataError(ValueError):
    """A dataset file is malformed; the message names the file, the line and what was expected."""


def _where(path: str | os.PathLike, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def validate_record(record: Any, path: str | os.PathLike = "<record>", line: int | None = None) -> Record:
    """Check one record against the format; return it unchanged or raise DataError."""
    where = _where(path, line)
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    convs = record.get("conversations")
    if convs is None:
        raise DataError(f"{where}: missing key 'conversations' (a list of {{role, content}} messages)")
    if not isinstance(convs, list) or not convs:
        raise DataError(f"{where}: 'conversations' must be a non-empty list of messages")
    roles = []
    for k, msg in enumerate(convs):
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise DataError(f"{where}: conversations[{k}] must be an object with 'role' and 'content'")
        if not isinstance(msg["content"], str) or not msg["content"].strip():
            raise DataError(f"{where}: conversations[{k}].content must be a non-empty string")
        roles.append(msg["role"])
    body = roles[1:] if roles[0] == "system" else roles
    expected = ["user", "assistant"] * (len(body) // 2 + 1)
    if not body or body != expected[: len(body)] or body[-1] != "assistant":
        raise DataError(
            f"{where}: roles must alternate user, assistant (optional leading system) and end with "
            f"assistant; got {roles}"
        )
    if "id" in record and not isinstance(record["id"], (str, int)):
        raise DataError(f"{where}: 'id' must be a string or an integer")
    if "source" in record and not isinstance(record["source"], str):
        raise DataError(f"{where}: 'source' must be a string")
    return record


def utf8_error(path: str | os.PathLike) -> DataError | None:
    """The error naming the first byte of a file that is not UTF-8 (file:line: byte and its 1-based
    byte column; a byte-order mark at the start of the file is allowed), or None if all of it is."""
    problem = utf8_problem(path)
    return DataError(problem) if problem else None


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of every line of a UTF-8 text file. A byte-order mark at the start
    of the file is skipped (utf-8-sig, as Windows editors write it); bytes that are not UTF-8 raise
    DataError naming the file, the line and the byte."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from enumerate(f, start=1)
    except UnicodeDecodeError as e:
        raise (utf8_error(path) or DataError(f"{path}: not valid UTF-8 ({e.reason})")) from None


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed object) for every non-blank line; bad JSON or bytes that are not
    UTF-8 raise DataError (a byte-order mark at the start of the file is allowed)."""
    for lineno, text in read_lines(path):
        if not text.strip():
            continue
        try:
            yield lineno, json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None


def load_records(path: str | os.PathLike) -> list[Record]:
    """Read and validate a JSONL dataset in the record format; an empty file is an error."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    records = []
    for lineno, obj in read_jsonl(path):
        rec = validate_record(obj, path, lineno)
        rec.setdefault("id", f"{path.stem}-{lineno}")
        rec.setdefault("source", path.stem)
        records.append(rec)
    if not records:
        raise DataError(f"{path}: dataset is empty (expected at least one record)")
    return records


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> None:
    """Write rows as JSONL atomically (a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for p in argv:
        try:
            recs = load_records(p)
        except (DataError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"{p}: {len(recs)} records OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
