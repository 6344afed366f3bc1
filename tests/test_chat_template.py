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
from mos.training.jobs import train
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


def test_bos_override_renders_a_bos_for_a_tokenizer_without_one(tiny_model_dir, testbed_dir, tmp_path: Path) -> None:
    """The authors' Qwen1.5 override (SPEC §5.3): its tokenizer has no BOS, `bos_token =
    "<|endoftext|>"` (its EOS) makes the Vicuna template render one. Here a tokenizer without BOS
    gets its EOS as BOS through `backbones.<name>.bos_token`, in tokenization, training and the saved folder."""
    import shutil

    from mos.data.tokenized import tokenize_records

    folder = tmp_path / "no_bos"
    shutil.copytree(tiny_model_dir, folder)
    bare = load_tokenizer(str(folder))
    bare.bos_token = None
    bare.save_pretrained(folder)
    plain = load_tokenizer(str(folder), VICUNA_TEMPLATE)
    assert plain.bos_token is None
    assert plain.apply_chat_template(CHAT, tokenize=False).startswith("Be brief. USER:")
    eos = plain.eos_token
    tok = load_tokenizer(str(folder), VICUNA_TEMPLATE, bos_token=eos)
    assert tok.bos_token == eos and tok.bos_token_id == tok.eos_token_id
    assert tok.apply_chat_template(CHAT, tokenize=False).startswith(f"{eos}Be brief. USER: Hi ASSISTANT: Hello{eos}")
    data = tokenize_records("x", [{"conversations": CHAT[1:3]}], tok, "response")
    without = tokenize_records("x", [{"conversations": CHAT[1:3]}], plain, "response")
    assert data.ids[0][0] == tok.eos_token_id and not data.mask[0][0]
    assert (data.ids[0][1:] == without.ids[0]).all()  # the same tokens after the BOS, the same reply mask
    assert (data.mask[0][2:] == without.mask[0][1:]).all() and tok.decode(data.ids[0][data.mask[0]]).endswith(f"o{eos}")
    with pytest.raises(ValueError, match="is not a token of the tokenizer"):
        load_tokenizer(str(folder), VICUNA_TEMPLATE, bos_token="<|nope|>")

    spec = train_spec(folder, testbed_dir, steps=1, batch_size=4, micro_batch_size=4, checkpoint_every=0)
    cache = tmp_path / "tok.npz"
    data_main(["--model", str(folder), "--max-length", "128", "--chat-template", "vicuna", "--bos-token", eos,
               "--out", str(cache), *[a for name, path in spec["datasets"].items() for a in ("--dataset", f"{name}={path}")]])
    cached, meta = load_tokenized(str(cache), "all")
    assert meta["bos_token"] == eos and all(x[0] == tok.eos_token_id for x in cached["Medicine"].ids)
    spec.update(chat_template=VICUNA_TEMPLATE, tokenized=str(cache), bos_token=eos)
    train(spec, tmp_path / "run")
    assert load_tokenizer(str(tmp_path / "run" / "model")).bos_token == eos  # evaluation renders it too


def test_paper_config_sets_the_qwen_bos_in_every_spec_that_tokenizes() -> None:
    from mos.pipeline import specs as S
    from mos.pipeline.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "config" / "paper.yaml")
    assert S.train_spec(cfg, "qwen1.5-0.5b", "mos_diff", 42)["bos_token"] == "<|endoftext|>"
    assert S.base_ppl_spec(cfg, "qwen1.5-0.5b", 0)["bos_token"] == "<|endoftext|>"
    assert S.tokenize_args(cfg, "qwen1.5-0.5b")[-2 * len(cfg["datasets"]) - 2:][:2] == ["--bos-token", "<|endoftext|>"]
    assert "bos_token" not in S.train_spec(cfg, "gemma-2b", "mos_diff", 42)
    assert "--bos-token" not in S.tokenize_args(cfg, "llama-3-8b")
