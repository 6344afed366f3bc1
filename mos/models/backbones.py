"""Tiny backbones of the paper's three architecture families, built offline from small configs.

Each family is the real transformers model class: Qwen2ForCausalLM (for Qwen1.5-0.5B),
GemmaForCausalLM (Gemma-2B) and LlamaForCausalLM (LLaMA-3-8B). A tiny backbone is randomly
initialised here and then pretrained once by `mos.training.pretrain`; every strategy fine-tunes from that
pretrained θ0. Models load with safetensors and never with `trust_remote_code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    GemmaForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2Config,
    Qwen2ForCausalLM,
)

FAMILIES: dict[str, tuple[type, type]] = {
    "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    "gemma": (GemmaConfig, GemmaForCausalLM),
    "llama": (LlamaConfig, LlamaForCausalLM),
}
SIZE_KEYS = ("hidden_size", "num_layers", "num_heads", "intermediate_size")


def tiny_config(spec: Mapping[str, Any], tokenizer: PreTrainedTokenizerBase, max_positions: int = 1024):
    """The transformers config of a tiny backbone spec (family + sizes) for this tokenizer."""
    family = spec["family"]
    if family not in FAMILIES:
        raise ValueError(f"unknown backbone family {family!r}; valid: {', '.join(FAMILIES)}")
    config_cls, _ = FAMILIES[family]
    hidden, heads = int(spec["hidden_size"]), int(spec["num_heads"])
    if hidden % heads:
        raise ValueError(f"hidden_size {hidden} is not divisible by num_heads {heads}")
    return config_cls(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=int(spec["intermediate_size"]),
        num_hidden_layers=int(spec["num_layers"]),
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny(spec: Mapping[str, Any], tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> PreTrainedModel:
    """A randomly initialised tiny model of the given family (deterministic in `seed`)."""
    config = tiny_config(spec, tokenizer)
    _, model_cls = FAMILIES[spec["family"]]
    torch.manual_seed(seed)
    model = model_cls(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def load_model(path: str, dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """Load a causal LM from a local folder or hub id (safetensors only, no remote code)."""
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True, trust_remote_code=False)


def enable_checkpointing(model: PreTrainedModel) -> None:
    """Gradient (activation) checkpointing of every decoder layer, non-reentrant: a layer's
    activations are recomputed in the backward pass instead of kept (docs/memory.md). Works with
    transformers' `activation_checkpointing_enable` (newer) and `gradient_checkpointing_enable`."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable({"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def is_checkpointing(model: torch.nn.Module) -> bool:
    """Whether any layer of the model checkpoints its activations (in train mode)."""
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def count_parameters(model: torch.nn.Module) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
