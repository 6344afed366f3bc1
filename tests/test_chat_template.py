"""A chat template forced on a backbone (`backbones.<name>.chat_template`, mos.data.chat_templates) is
used by tokenization, training and evaluation, and saved with the trained model.

    pytest tests/test_chat_template.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mos.data.chat_templates import VICUNA_TEMPLATE, resolve
from mos.data.tokenized import load_tokenized
from mos.data.tokenized import main as data_main
from mos.data.tokenizer import load_tokenizer
from mos.training.loop import train
from tests.helpers import train_spec

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]


def test_vicuna_template_renders_like_the_authors_code(tiny_model_dir: Path) -> None:
    tok = load_tokenizer(str(tiny_model_dir), VICUNA_TEMPLATE)
    text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text == f"{tok.bos_token}Be brief. USER: Hi ASSISTANT: Hello{tok.eos_token}USER: Bye ASSISTANT:"
    assert load_tokenizer(str(tiny_model_dir)).chat_template != VICUNA_TEMPLATE  # only when forced


def test_resolve_names_and_files(tmp_path: Path) -> None:
    assert resolve("vicuna") == VICUNA_TEMPLATE
    path = tmp_path / "t.jinja"
    path.write_text("{{ messages[0]['content'] }}", encoding="utf-8")
    assert resolve(str(path)) == "{{ messages[0]['content'] }}"
    with pytest.raises(ValueError, match="neither a built-in chat template"):
        resolve("chatml")


def test_training_tokenizes_with_the_forced_template_and_saves_it(tiny_model_dir, testbed_dir, tmp_path: Path) -> None:
    spec = train_spec(tiny_model_dir, testbed_dir, steps=2, batch_size=4, micro_batch_size=4, checkpoint_every=0)
    cache = tmp_path / "tok.npz"
    data_main(["--model", str(tiny_model_dir), "--max-length", "128", "--chat-template", "vicuna", "--out", str(cache),
               *[a for name, path in spec["datasets"].items() for a in ("--dataset", f"{name}={path}")]])
    data, meta = load_tokenized(str(cache), "all")
    assert meta["chat_template"] == VICUNA_TEMPLATE
    tok = load_tokenizer(str(tiny_model_dir), VICUNA_TEMPLATE)
    first = tok.decode(data["Medicine"].ids[0])
    assert "USER: " in first and "ASSISTANT: " in first

    spec.update(chat_template=VICUNA_TEMPLATE, tokenized=str(cache))
    train(spec, tmp_path / "run")
    saved = load_tokenizer(str(tmp_path / "run" / "model"))
    assert saved.chat_template == VICUNA_TEMPLATE  # evaluation of the folder renders as training did
    assert json.loads((tmp_path / "run" / "run.json").read_text())["spec"]["chat_template"] == VICUNA_TEMPLATE


def test_evaluation_spec_carries_the_template(tiny_model_dir: Path, testbed_dir: Path) -> None:
    from mos.evaluation.evaluate import SpecError, validate_spec

    spec = {"model": str(tiny_model_dir), "benchmarks": {"testbed_mc": str(testbed_dir / "eval" / "mc.jsonl")}}
    assert validate_spec({**spec, "chat_template": VICUNA_TEMPLATE})["chat_template"] == VICUNA_TEMPLATE
    assert "chat_template" not in validate_spec(spec)
    with pytest.raises(SpecError, match="chat_template"):
        validate_spec({**spec, "chat_template": 3})
