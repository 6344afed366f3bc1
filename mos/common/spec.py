"""Read a job spec given on the command line: inline JSON, or @path to a JSON file. A run.json
written by a finished job is accepted too (its "spec" key), so `--spec @run.json` reruns a job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mos.common.io import read_text


def read_spec(arg: str) -> dict[str, Any]:
    if arg.startswith("@"):
        path = Path(arg[1:])
        try:
            obj = json.loads(read_text(path))
        except FileNotFoundError:
            raise SystemExit(f"--spec: file not found: {path}") from None
        except ValueError as e:  # invalid JSON, or bytes that are not UTF-8 (named by line and byte)
            if isinstance(e, json.JSONDecodeError):
                raise SystemExit(f"--spec: {path}:{e.lineno}: invalid JSON ({e.msg})") from None
            raise SystemExit(f"--spec: {e}") from None
    else:
        try:
            obj = json.loads(arg)
        except json.JSONDecodeError as e:
            raise SystemExit(f"--spec: invalid JSON at column {e.colno} ({e.msg})") from None
    if not isinstance(obj, dict):
        raise SystemExit("--spec: expected a JSON object")
    if "spec" in obj and "provenance" in obj:
        obj = obj["spec"]
    return obj
