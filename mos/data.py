"""Turn datasets into token arrays once, before training: conversations through the backbone's chat
template (with a per-token loss mask) and plain documents for pretraining.

The loss mask marks the positions whose token is a training target:
    loss="all"       every token after the first (the authors' code: labels = input_ids)
    loss="response"  only assistant replies and their end-of-turn token (paper Eq. 1)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import PreTrainedTokenizerBase

from mos.records import DataError, Record, load_records

LOSS_MODES = ("all", "response")


@dataclass
class TokenizedDataset:
    """One dataset as token id arrays plus boolean target masks (same lengths): `mask` marks the
    training targets (per the loss mode), `response` the assistant tokens (for response-only
    perplexities; all tokens for plain documents)."""

    name: str
    ids: list[np.ndarray]
    mask: list[np.ndarray]
    response: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> TokenizedDataset:
        pick = list(indices)
        return TokenizedDataset(self.name, [self.ids[i] for i in pick], [self.mask[i] for i in pick],
                                None if self.response is None else [self.response[i] for i in pick])

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))


def assistant_spans(messages: Sequence[dict], tokenizer: PreTrainedTokenizerBase) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of every assistant reply (with its
    end-of-turn token), found by rendering the conversation prefix before and after each reply."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    eos = tokenizer.eos_token or ""
    spans = []
    for k, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(list(messages[:k]), tokenize=False, add_generation_prompt=True))
        if not text.startswith(msg["content"], start):
            start = text.find(msg["content"], start)
        if start < 0:
            raise DataError(f"chat template does not reproduce assistant turn {k} verbatim")
        end = start + len(msg["content"])
        if eos and text.startswith(eos, end):
            end += len(eos)
        spans.append((start, end))
    return text, spans


def tokenize_records(name: str, records: Sequence[Record], tokenizer: PreTrainedTokenizerBase,
                     loss: str = "all", max_length: int = 2048) -> TokenizedDataset:
    if loss not in LOSS_MODES:
        raise ValueError(f"loss must be one of {LOSS_MODES}, got {loss!r}")
    rendered = [assistant_spans(r["conversations"], tokenizer) for r in records]
    enc = tokenizer([t for t, _ in rendered], add_special_tokens=False, return_offsets_mapping=True)
    ids, masks, responses = [], [], []
    for k, (_, spans) in enumerate(rendered):
        row = np.asarray(enc["input_ids"][k][:max_length], dtype=np.int64)
        offsets = enc["offset_mapping"][k][:max_length]
        response = np.array([b > a and any(s <= a and b <= e for s, e in spans) for a, b in offsets], dtype=bool)
        response[0] = False  # the first token has no context to be predicted from
        mask = response if loss == "response" else np.arange(len(row)) > 0
        ids.append(row)
        masks.append(mask)
        responses.append(response)
    return TokenizedDataset(name, ids, masks, responses)


def tokenize_documents(name: str, texts: Sequence[str], tokenizer: PreTrainedTokenizerBase,
                       max_length: int = 2048) -> TokenizedDataset:
    """Plain text: bos + text + eos, every token a target (next-token pretraining)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    enc = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    ids = [np.asarray((bos + row + eos)[:max_length], dtype=np.int64) for row in enc]
    masks = [np.arange(len(row)) > 0 for row in ids]
    return TokenizedDataset(name, ids, masks, masks)


def load_dataset_file(name: str, path: str | Path, tokenizer: PreTrainedTokenizerBase, loss: str,
                      max_length: int, fmt: str = "records") -> TokenizedDataset:
    """Read a JSONL file in the record format (or `{"text"}` documents) and tokenize it."""
    if fmt == "records":
        return tokenize_records(name, load_records(path), tokenizer, loss, max_length)
    if fmt == "documents":
        with open(path, encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        if not texts:
            raise DataError(f"{path}: no documents")
        return tokenize_documents(name, texts, tokenizer, max_length)
    raise ValueError(f"unknown dataset format {fmt!r} (records | documents)")
