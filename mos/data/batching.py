"""Pack variable-length examples into a few rows with almost no padding.

Examples stay whole. Each row holds several examples back to back; position ids restart at every
example, which transformers turns into a block-diagonal causal mask (an example never attends to
its neighbours), so packing changes speed, not the result. Examples are dealt longest first into
the currently shortest row, so rows end up nearly equally long and padding is a few percent.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

IGNORE = -100


@dataclass
class Batch:
    input_ids: torch.Tensor      # (rows, length)
    position_ids: torch.Tensor   # (rows, length), restarting at 0 for every example
    labels: torch.Tensor         # (rows, length), IGNORE where no loss
    n_tokens: int                # real (non-padding) tokens
    n_targets: int               # positions that carry a loss
    spans: list[tuple[int, int, int]] | None = None  # per input example: (row, start, end)

    @property
    def n_padding(self) -> int:
        return int(self.input_ids.numel()) - self.n_tokens


def assign_rows(lengths: Sequence[int], pack_length: int) -> list[list[int]]:
    """Indices of the examples in each row: as many rows as `pack_length` requires, balanced."""
    total = int(sum(lengths))
    n_rows = max(1, math.ceil(total / pack_length))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    heap = [(0, r) for r in range(n_rows)]
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size, r = heapq.heappop(heap)
        rows[r].append(i)
        heapq.heappush(heap, (size + int(lengths[i]), r))
    return [row for row in rows if row]


def pack(ids: Sequence[np.ndarray], masks: Sequence[np.ndarray], pack_length: int, pad_id: int) -> Batch:
    """Pack examples (token ids + target masks) into a padded batch of balanced rows."""
    lengths = [len(x) for x in ids]
    rows = assign_rows(lengths, pack_length)
    width = max(sum(lengths[i] for i in row) for row in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    labels = np.full((len(rows), width), IGNORE, dtype=np.int64)
    positions = np.zeros((len(rows), width), dtype=np.int64)
    spans: list[tuple[int, int, int]] = [(0, 0, 0)] * len(ids)
    for r, row in enumerate(rows):
        at = 0
        for i in row:
            n = lengths[i]
            input_ids[r, at:at + n] = ids[i]
            labels[r, at:at + n] = np.where(masks[i], ids[i], IGNORE)
            positions[r, at:at + n] = np.arange(n)
            spans[i] = (r, at, at + n)
            at += n
    n_tokens = sum(lengths)
    return Batch(torch.from_numpy(input_ids), torch.from_numpy(positions), torch.from_numpy(labels),
                 n_tokens, int(sum(int(m.sum()) for m in masks)), spans)
