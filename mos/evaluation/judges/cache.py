"""A content-addressed, append-only cache of judgments (JSONL), safe against crashes and shared by jobs.

    cache = JudgmentCache("resources/judge_cache/judgments.jsonl")
    key = content_key({"judge": "gpt-4", "messages": [...], "sample": 0})
    hit = cache.get(key)            # the stored record, or None
    cache.put(key, {"rating": 7.0, "raw": "... [[7]]"})

Every judgment is one line `{"key": ..., **record}` appended under an exclusive file lock and
flushed to disk before `put` returns, so a crash loses at most the judgment being written (a torn
last line is skipped on the next load) and two jobs appending at once never interleave. A key is
the SHA-256 of the canonical JSON of everything that determines the judgment (judge model and
decoding settings, the rendered prompt — template, question, answers, references — and the sample
index), so a rerun finds every earlier judgment and an edited template or answer is judged anew.
Nothing secret is part of a key or a record.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def content_key(content: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON (sorted keys, no whitespace) of `content`."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class JudgmentCache:
    """Judgments by content key, backed by one append-only JSONL file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        self.torn_lines = 0
        self._offset = 0
        self.refresh()

    def refresh(self) -> None:
        """Read lines appended since the last read (by this or another process)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a last line without newline is being written (or torn)
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = rec["key"]
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                self.torn_lines += 1  # a line cut by a crash, followed by later appends
                continue
            self._records.setdefault(key, rec)  # the first judgment of a key is the one kept
        self._offset += end

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(key)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self._records)

    def put(self, key: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store a judgment unless the key is already stored (by anyone); returns the stored record."""
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._repair_torn_tail(fd)
                self.refresh()
                if key in self._records:
                    return self._records[key]
                rec = {"key": key, **record}
                os.write(fd, (json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
                os.fsync(fd)
                self._records[key] = rec
                self._offset = os.fstat(fd).st_size
                return rec
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _repair_torn_tail(self, fd: int) -> None:
        """End a torn last line (left by a crash) with a newline so the next record starts clean."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                os.write(fd, b"\n")
