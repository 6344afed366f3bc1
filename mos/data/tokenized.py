"""Turn datasets into token arrays once, before training: conversations through the backbone's chat
template (with a per-token loss mask) and plain documents for pretraining.

    python -m mos tokenize --model resources/default/backbones/tiny-llama/model \
        --dataset Mathematics=resources/default/datasets/Mathematics.jsonl ... --max-length 256 --out tok.npz
        [--chat-template vicuna]    # force a chat template (mos.data.chat_templates) instead of the model's own
        [--bos-token '<|endoftext|>']  # set the BOS token (the authors' override for Qwen1.5, SPEC §5.3)

The loss mask marks the positions whose token is a training target:
    loss="all"       every token after the first (the authors' code: labels = input_ids)
    loss="response"  only assistant replies and their end-of-turn token (paper Eq. 1)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from mos.data.records import DataError, Record, load_records, read_jsonl

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


def end_of_turn_tokens(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """The tokenizer's special tokens (EOS first), longest first: what may close a reply."""
    specials = {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    specials.update(tokenizer.all_special_tokens)
    specials.discard("")
    return sorted(specials, key=lambda t: (t != tokenizer.eos_token, -len(t), t))


def assistant_spans(messages: Sequence[dict], tokenizer: PreTrainedTokenizerBase,
                    end_tokens: Sequence[str] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of every assistant reply with its
    end-of-turn token, found by rendering the conversation prefix before and after each reply.

    The end-of-turn token is the special token the template puts right after the reply: EOS for
    the Vicuna-style and the tiny backbones' templates, `<|im_end|>` for ChatML (SmolLM2, Qwen),
    `<end_of_turn>` for Gemma's turns, `<|eot_id|>` for Llama-3's. `end_tokens` are the candidates
    (default: every special token of the tokenizer, see `end_of_turn_tokens`)."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    ends = end_of_turn_tokens(tokenizer) if end_tokens is None else end_tokens
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
        end += next((len(t) for t in ends if text.startswith(t, end)), 0)
        spans.append((start, end))
    return text, spans


def response_mask(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per token: does it overlap a reply span? A token that joins the template's separator to the
    reply's first characters (`ASSISTANT:` + ` Paris` -> `ĠParis`) belongs to the reply: predicting
    it is predicting the reply's first word. Empty (special-token-free) offsets never count."""
    return np.array([b > a and any(a < e and s < b for s, e in spans) for a, b in offsets], dtype=bool)


def tokenize_records(name: str, records: Sequence[Record], tokenizer: PreTrainedTokenizerBase,
                     loss: str = "all", max_length: int = 2048) -> TokenizedDataset:
    if loss not in LOSS_MODES:
        raise ValueError(f"loss must be one of {LOSS_MODES}, got {loss!r}")
    ends = end_of_turn_tokens(tokenizer)
    rendered = [assistant_spans(r["conversations"], tokenizer, ends) for r in records]
    enc = tokenizer([t for t, _ in rendered], add_special_tokens=False, return_offsets_mapping=True)
    ids, masks, responses = [], [], []
    for k, (_, spans) in enumerate(rendered):
        row = np.asarray(enc["input_ids"][k][:max_length], dtype=np.int64)
        response = response_mask(enc["offset_mapping"][k][:max_length], spans)
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
        texts = []
        for lineno, obj in read_jsonl(path):
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise DataError(f"{path}:{lineno}: expected an object with a string 'text'")
            texts.append(obj["text"])
        if not texts:
            raise DataError(f"{path}: no documents")
        return tokenize_documents(name, texts, tokenizer, max_length)
    raise ValueError(f"unknown dataset format {fmt!r} (records | documents)")


# ---------------------------------------------------------------- a tokenization cache
# Every run of a backbone tokenizes the same files with the same tokenizer; the workflow does it
# once per backbone (`python -m mos tokenize`) and runs load the arrays (milliseconds, not seconds).


def save_tokenized(path: str | Path, datasets: Mapping[str, TokenizedDataset], meta: Mapping[str, Any]) -> None:
    """All datasets in one .npz: token ids, lengths and response masks per dataset, plus `meta`."""
    arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(dict(meta)).encode(), dtype=np.uint8)}
    for name, data in datasets.items():
        arrays[f"{name}/ids"] = np.concatenate(data.ids).astype(np.int32)
        arrays[f"{name}/lengths"] = data.lengths
        arrays[f"{name}/response"] = np.concatenate(data.response)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_tokenized(path: str | Path, loss: str) -> tuple[dict[str, TokenizedDataset], dict[str, Any]]:
    """The datasets of a cache file, with training masks for `loss`, and the cache's meta data."""
    if loss not in LOSS_MODES:
        raise ValueError(f"loss must be one of {LOSS_MODES}, got {loss!r}")
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes())
        out = {}
        for name in meta["datasets"]:
            cuts = np.cumsum(z[f"{name}/lengths"])[:-1]
            ids = np.split(z[f"{name}/ids"].astype(np.int64), cuts)
            response = np.split(z[f"{name}/response"], cuts)
            masks = response if loss == "response" else [np.arange(len(x)) > 0 for x in ids]
            out[name] = TokenizedDataset(name, ids, masks, response)
    return out, meta


def main(argv: list[str] | None = None) -> None:
    import argparse

    from mos.data.chat_templates import resolve as resolve_chat_template
    from mos.data.tokenizer import load_tokenizer

    ap = argparse.ArgumentParser(description="Tokenize training datasets once for every run of a backbone.")
    ap.add_argument("--model", required=True, help="model folder or hub id whose tokenizer to use")
    ap.add_argument("--dataset", action="append", required=True, metavar="NAME=PATH", help="repeatable")
    ap.add_argument("--max-length", type=int, required=True)
    ap.add_argument("--chat-template", default=None, metavar="NAME|FILE",
                    help="force this chat template (a built-in name such as vicuna, or a Jinja file)")
    ap.add_argument("--bos-token", default=None, help="make this existing token the BOS token (Qwen1.5: <|endoftext|>)")
    ap.add_argument("--out", required=True, help=".npz file")
    args = ap.parse_args(argv)
    template = resolve_chat_template(args.chat_template) if args.chat_template else None
    tokenizer = load_tokenizer(args.model, template, args.bos_token)
    files = dict(item.split("=", 1) for item in args.dataset)
    datasets = {name: load_dataset_file(name, path, tokenizer, "response", args.max_length)
                for name, path in files.items()}
    meta = {"model": args.model, "max_length": args.max_length, "datasets": files}
    if template:  # runs check it: a cache rendered with another template is not used
        meta["chat_template"] = template
    if args.bos_token:  # likewise
        meta["bos_token"] = args.bos_token
    save_tokenized(args.out, datasets, meta)
    print(f"{args.out}: " + ", ".join(f"{n} {len(d)}" for n, d in datasets.items()))


if __name__ == "__main__":
    main()
