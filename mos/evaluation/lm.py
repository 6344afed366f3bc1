"""lm-eval's `hf` model with less overhead for many small evaluations (used by `mos.evaluation.evaluate`).

`ScoringHFLM` is lm-eval's `HFLM` (same loading, tokenization, request ordering, scoring and
generation code) with three changes to how log-likelihood batches are run:

- token-budget batches: lm-eval sorts requests longest first and cuts fixed-size batches, so a
  batch of long MMLU prompts is padded to its longest one. Here each batch takes as many requests
  as fit `batch_tokens` padded tokens (at most `batch_size`), through lm-eval's own batch-size
  scheduler hook;
- logits only where scored: the model returns logits only for the last positions of the padded
  batch that hold a continuation token (`logits_to_keep`, which lm-eval's slicing supports as
  "virtual tokens"), instead of a vocabulary-sized row for every prompt token;
- tokenizations are memoized (lm-eval encodes each prompt once per choice).

Generation (`generate_until`) is lm-eval's, with fixed `batch_size` batches. Batch sizes are
always ours (lm-eval's default became `auto` in 2026), and the overridden hooks are lm-eval 0.4's
internals: pyproject.toml pins `lm-eval>=0.4.13,<0.5`, the minor this was tested with. Scores equal plain
`HFLM`'s up to float rounding (tests/test_eval.py compares them with a direct forward pass).

    lm = ScoringHFLM(pretrained="path/to/model", dtype="float32", device="cpu", batch_size=64,
                     batch_tokens=2048)
    lm_eval.simple_evaluate(model=lm, tasks=[...])

`wants_bos(tokenizer)` says whether to pass `add_bos_token=True`; `task_manager` is lm-eval's task
index, built once per process. `quiet_env_info()` replaces lm-eval's environment report
(`torch.utils.collect_env`, which runs `pip list` and other subprocesses, ~0.6 s per call) with a
short one (python, torch, transformers, lm-eval versions, platform), and the git hash lookup with
one cached per process.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import platform
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import lm_eval.evaluator
import torch
from lm_eval.models.huggingface import HFLM

DEFAULT_BATCH_TOKENS = 2048


def padded_length(request: Sequence[Any], max_length: int) -> int:
    """Input length lm-eval gives a (strings, context ids, continuation ids) request (last token dropped)."""
    return min(len(request[1]) + len(request[2]) - 1, max_length)


def plan_batch(requests: Sequence[Sequence[Any]], pos: int, max_rows: int, batch_tokens: int,
               max_length: int) -> tuple[int, int]:
    """(rows, logits to keep) of the batch starting at `pos` of length-sorted (longest first) requests.

    Rows: as many as fit `batch_tokens` padded tokens, 1 to `max_rows`. Logits to keep: the number of
    trailing positions of the right-padded batch that covers every row's continuation.
    """
    width = padded_length(requests[pos], max_length)
    rows = max(1, min(max_rows, batch_tokens // max(width, 1), len(requests) - pos))
    keep = max(width - padded_length(r, max_length) + len(r[2]) for r in requests[pos:pos + rows])
    return rows, min(keep, width)


class ScoringHFLM(HFLM):
    """`HFLM` with token-budget log-likelihood batches, trimmed logits and memoized tokenization."""

    def __init__(self, *, batch_size: int = 64, batch_tokens: int = DEFAULT_BATCH_TOKENS, **kwargs: Any) -> None:
        super().__init__(batch_size=batch_size, **kwargs)
        self.batch_tokens = int(batch_tokens)
        self._max_rows = int(batch_size)
        self._plan: tuple[int, int, int] | None = None  # (next batch start, rows, logits to keep)
        self._keep: int | None = None
        self._encodings: dict[tuple[str, bool | None, int | None], tuple[int, ...]] = {}
        self._trims = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    def tok_encode(self, string: str, add_special_tokens: bool | None = None,
                   left_truncate_len: int | None = None, **kwargs: Any) -> list[int]:
        if kwargs:
            return super().tok_encode(string, add_special_tokens, left_truncate_len, **kwargs)
        key = (string, add_special_tokens, left_truncate_len)
        if key not in self._encodings:
            self._encodings[key] = tuple(super().tok_encode(string, add_special_tokens, left_truncate_len))
        return list(self._encodings[key])

    def _loglikelihood_tokens(self, requests: list[Any], disable_tqdm: bool = False,
                              override_bs: int | None = None) -> list[tuple[float, bool]]:
        # "auto" makes lm-eval ask `_batch_scheduler` for every batch's size (no detection runs).
        self.batch_size_per_gpu, self._plan = "auto", None
        try:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm)
        finally:
            self.batch_size_per_gpu, self._plan, self._keep = self._max_rows, None, None

    def _batch_scheduler(self, pos: int, n_reordered_requests: Sequence[Any]) -> int:
        """Called by lm-eval for every request in order; plans a batch at each batch start."""
        if self._plan is None or pos == 0 or pos >= self._plan[0]:
            rows, keep = plan_batch(n_reordered_requests, pos, self._max_rows, self.batch_tokens, self.max_length)
            self._plan = (pos + rows, rows, keep)
            self._keep = keep
        return self._plan[1]

    def _model_call(self, inps: torch.Tensor, attn_mask: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
        keep, self._keep = self._keep, None
        if keep is None or not self._trims or attn_mask is not None or self.backend != "causal":
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)
        with torch.no_grad():
            return self.model(inps, logits_to_keep=keep).logits


@functools.cache
def _short_env_info() -> dict[str, Any]:
    from importlib.metadata import version
    from pathlib import Path

    import transformers
    from lm_eval.loggers.utils import get_commit_from_path

    return {
        "pretty_env_info": f"python {sys.version.split()[0]}; torch {torch.__version__}; {platform.platform()}; "
                           f"{platform.processor() or platform.machine()}",
        "transformers_version": transformers.__version__,
        "lm_eval_version": version("lm_eval"),
        "upper_git_hash": get_commit_from_path(Path.cwd().parent),
    }


@functools.cache
def _git_hash() -> str | None:
    from lm_eval.loggers.utils import get_git_commit_hash

    return get_git_commit_hash()


@contextlib.contextmanager
def quiet_env_info() -> Iterator[None]:
    """Within the block, `simple_evaluate` records a short environment report computed once."""
    saved = lm_eval.evaluator.add_env_info, lm_eval.evaluator.get_git_commit_hash
    lm_eval.evaluator.add_env_info = lambda storage: storage.update(_short_env_info())
    lm_eval.evaluator.get_git_commit_hash = _git_hash
    try:
        yield
    finally:
        lm_eval.evaluator.add_env_info, lm_eval.evaluator.get_git_commit_hash = saved


def wants_bos(tokenizer: Any) -> bool | None:
    """True when the model's chat template starts with BOS: it saw BOS first in every training sequence,
    so lm-eval prepends it to plain prompts (MMLU) too, not to those that start with it (chat template).
    Otherwise None keeps the tokenizer's own default (the `add_bos_token` model argument)."""
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    return True if tokenizer.bos_token and "bos_token" in template else None


@functools.cache
def task_manager(include_defaults: bool) -> Any:
    """lm-eval's task index, built once per process (the built-in one takes seconds)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=include_defaults)
