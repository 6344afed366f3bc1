"""Train the byte-level BPE tokenizer of the tiny backbones, offline, with a chat template.

The tokenizer is trained on the testbed's training conversations and its pretraining corpus (never
on evaluation text) and saved as an ordinary Hugging Face tokenizer folder, so `AutoTokenizer`,
lm-eval and vLLM load it as is. Conversations render as

    <|bos|><|user|>\\n{question}<|eos|>\\n<|assistant|>\\n{answer}<|eos|>\\n ...

    python -m mos tokenizer --testbed resources/default/testbed --vocab-size 1024 --out resources/default/tokenizer
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from mos.common.io import atomic_dir
from mos.data.chat_templates import VICUNA_TEMPLATE
from mos.data.records import load_records, read_jsonl

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
ROLE_TOKENS = ["<|user|>", "<|assistant|>", "<|system|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def training_texts(testbed: str | Path) -> Iterator[str]:
    """Every training conversation turn and every corpus document of a testbed folder. The corpus's
    dialogues are left out: they repeat the documents' words, and counting them twice would spend
    merges on the corpus that the instruction data needs (its examples would get longer)."""
    testbed = Path(testbed)
    for path in sorted((testbed / "train").glob("*.jsonl")):
        for rec in load_records(path):
            for msg in rec["conversations"]:
                yield msg["content"]
    for _, doc in read_jsonl(testbed / "corpus.jsonl"):
        yield doc["text"]


def train_tokenizer(texts: Iterator[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE (any byte sequence is representable) with pad/bos/eos and role tokens."""
    tok = Tokenizer(models.BPE(unk_token=None))
    # Digits are split one per token (as Llama and Qwen do), so arithmetic is learnable digit-wise.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False,
        special_tokens=[PAD, BOS, EOS, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS, model_max_length=2048,
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def load_tokenizer(path: str, chat_template: str | None = None, bos_token: str | None = None) -> PreTrainedTokenizerBase:
    """Load the tokenizer. `chat_template` (Jinja text, see mos.data.chat_templates) replaces the
    tokenizer's own template, as the authors' code forces its Vicuna-style template on every
    backbone (SPEC §5.3; a config's `backbones.<name>.chat_template: vicuna`); without it a model
    that has no chat template (a base model) gets the Vicuna-style one. `bos_token` (an existing
    token of the vocabulary) becomes the BOS token: the authors set `<|endoftext|>` for Qwen1.5,
    whose tokenizer has none, so the Vicuna template renders one (SPEC §5.3; a config's
    `backbones.<name>.bos_token`). A trained model folder saves the tokenizer with it."""
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if bos_token is not None:
        if bos_token not in tok.get_vocab():
            raise ValueError(f"bos_token {bos_token!r} is not a token of the tokenizer of {path!r} "
                             "(backbones.<name>.bos_token must name an existing token, e.g. '<|endoftext|>' for Qwen1.5)")
        tok.bos_token = bos_token
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if chat_template:
        tok.chat_template = chat_template
    elif not tok.chat_template:
        tok.chat_template = VICUNA_TEMPLATE
    return tok


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testbed", required=True, help="testbed folder (train/*.jsonl, corpus.jsonl)")
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--out", required=True, help="output tokenizer folder")
    args = ap.parse_args(argv)
    tok = train_tokenizer(training_texts(args.testbed), args.vocab_size)
    with atomic_dir(args.out) as tmp:
        tok.save_pretrained(tmp)
    print(f"tokenizer: {len(tok)} tokens -> {args.out}")



def load_tokenizer_dir(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer folder written by this module."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


if __name__ == "__main__":
    main()
