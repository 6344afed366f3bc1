"""θ0's per-example scores as the base_ppl job writes them (mos.training.base_ppl: perplexities per
scope, IFD, and the precision they were computed in), read back for the probe, and the precision a
forward pass of a model runs in (`model_numerics`), which the probe checks against them.

    from mos.mixing.base_scores import read_base_ppl
    scores = read_base_ppl("resources/default/base_ppl/tiny-llama/theta0.csv")
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch

PPL_SCOPES = ("sequence", "response")


def read_base_ppl(path: str | Path) -> dict[str, dict[str, dict[int, float]]]:
    """{dataset: {scope: {example index: base perplexity}}} from a base_ppl CSV, plus {"ifd": {index:
    IFD}} when the file has θ0's instruction-following difficulty (mos.training.base_ppl)."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            d = out.setdefault(row["dataset"], {s: {} for s in PPL_SCOPES})
            for scope in PPL_SCOPES:
                d[scope][int(row["index"])] = float(row[f"ppl_{scope}"])
            if row.get("ifd") not in (None, ""):
                d.setdefault("ifd", {})[int(row["index"])] = float(row["ifd"])
    return out


def read_base_numerics(path: str | Path) -> dict[str, str] | None:
    """How θ0's perplexities in a base_ppl CSV were computed ({"weights", "autocast"} dtypes), or
    None for a file written before the CSV recorded it."""
    with open(path, newline="") as f:
        row = next(csv.DictReader(f), None)
    if row is None or "weights_dtype" not in row:
        return None
    return {"weights": row["weights_dtype"], "autocast": row["autocast_dtype"]}


def model_numerics(model: torch.nn.Module, device: torch.device | str,
                   autocast: Callable[[], AbstractContextManager] | None = None) -> dict[str, str]:
    """The precision a forward pass of `model` runs in: its weights' dtype and the autocast dtype in
    force inside `autocast()` ("none" when off)."""
    weights = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    kind = torch.device(device).type
    with (autocast or nullcontext)():
        on = torch.is_autocast_enabled(kind)
        dtype = torch.get_autocast_dtype(kind) if on else None
    return {"weights": _dtype_name(weights), "autocast": _dtype_name(dtype)}


def _dtype_name(dtype: torch.dtype | None) -> str:
    return "none" if dtype is None else str(dtype).removeprefix("torch.")
