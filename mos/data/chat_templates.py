"""Chat templates a config can force on a backbone (`backbones.<name>.chat_template`).

    python -m mos chat-template vicuna                 # print the Jinja text of a built-in template
    python -m mos chat-template templates/mine.jinja   # or of a file (what a job spec would carry)

A config names a built-in template (`vicuna`, `gemma`) or a Jinja file; `resolve` turns either into the
Jinja text, which mos.pipeline.config puts into the tokenize, base_ppl, train and eval specs, so every stage
renders conversations the same way and a trained model folder saves the template it was trained
with. Light on purpose (no torch/transformers): mos.pipeline.config imports it while Snakemake parses.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The authors' code forces this Vicuna-style template on every backbone (SPEC §5.3): the system
# text and a space, `USER: <text> ` per user turn, `ASSISTANT: <text></s>` per reply, and
# `ASSISTANT:` as the generation prompt. A tokenizer without a BOS token renders none.
VICUNA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }} "
    "{% elif m['role'] == 'user' %}USER: {{ m['content'] }} "
    "{% else %}ASSISTANT: {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

# Gemma's turn format (Gemma 1-3; the template the hub's Gemma tokenizers carry, written here for the
# Gemma-3-270M GGUF, which has none): `<start_of_turn>user` / `<start_of_turn>model` turns, each closed
# by `<end_of_turn>` and a newline; a system message is put before the first user turn's text.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.system = m['content'] + '\\n\\n' %}"
    "{% else %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{% if m['role'] == 'user' %}{{ ns.system }}{% set ns.system = '' %}{% endif %}"
    "{{ m['content'] }}<end_of_turn>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

BUILTIN: dict[str, str] = {"vicuna": VICUNA_TEMPLATE, "gemma": GEMMA_TEMPLATE}


def is_builtin(value: str) -> bool:
    return value in BUILTIN


def resolve(value: str) -> str:
    """The Jinja text of a built-in template name or of a template file; ValueError otherwise."""
    if value in BUILTIN:
        return BUILTIN[value]
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"{value!r} is neither a built-in chat template ({', '.join(BUILTIN)}) nor a file")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"chat template file {value!r} is empty")
    return text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    try:
        print(resolve(args[0]))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
