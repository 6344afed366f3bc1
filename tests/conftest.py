"""Shared fixtures: a small generated testbed, its tokenizer and a tiny pretrained-from-scratch
backbone, built once per test session in a temporary folder (offline, seconds)."""

from __future__ import annotations

import os

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

TINY = {"name": "tiny", "family": "llama", "hidden_size": 32, "num_layers": 2, "num_heads": 2,
        "intermediate_size": 64}


@pytest.fixture(scope="session")
def testbed_dir(tmp_path_factory):
    from mos.data.testbed.build import TestbedConfig, build

    out = tmp_path_factory.mktemp("testbed") / "tb"
    build(TestbedConfig(seed=0, scale=0.01, corpus_docs=400, mc_math=20, mc_general=20, mc_nlp_per_task=3,
                        chat_per_category=2, word_problems=10), out)
    return out


@pytest.fixture(scope="session")
def tokenizer_dir(testbed_dir, tmp_path_factory):
    from mos.data.tokenizer import train_tokenizer, training_texts

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(training_texts(testbed_dir), 512).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tokenizer_dir, tmp_path_factory):
    """A randomly initialised tiny Llama saved with its tokenizer (a stand-in for θ0)."""
    from mos.data.tokenizer import load_tokenizer_dir
    from mos.models.backbones import build_tiny

    tok = load_tokenizer_dir(tokenizer_dir)
    out = tmp_path_factory.mktemp("model")
    model = build_tiny(TINY, tok, seed=0)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
