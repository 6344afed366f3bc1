"""Export the suite's benchmarks as lm-eval YAML tasks, for the stock `lm-eval run` command line.

The testbed's MC items are rendered with the chat template of the model to be evaluated (prompt =
template with the generation prompt, choice = reply + end token, as the `testbed_mc` benchmark does) into a
JSONL file beside the YAML; data paths in the YAML are absolute, so the task runs from any folder:

    python -m mos export-task --model results/default/runs/tiny-llama/uniform/seed0/model \\
        --mc resources/default/testbed/eval/mc.jsonl [--mmlu-dev resources/mmlu_dev/mmlu_dev.jsonl] \\
        --out /tmp/mos_tasks
    lm-eval run --model hf --model_args pretrained=results/default/runs/tiny-llama/uniform/seed0/model \\
        --tasks /tmp/mos_tasks/testbed_mc.yaml --include_path /tmp/mos_tasks --device cpu

(`--tasks testbed_mc` works too once `--include_path` is given.) The rendered prompts already start
with the template's BOS token, which lm-eval then does not add again. For `mmlu_dev`, `mos.evaluation.evaluate`
passes `add_bos_token=True` when the chat template uses a BOS token; add it to `--model_args` to
get the same numbers from the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mos.data.records import read_jsonl
from mos.evaluation.benchmarks.mmlu_dev import mmlu_dev_task
from mos.evaluation.benchmarks.testbed_mc import render_testbed_mc, testbed_mc_task
from mos.evaluation.tasks import write_docs, write_task_yaml


def export_testbed_mc(model_dir: str | Path, mc_path: str | Path, out_dir: str | Path,
                      name: str = "testbed_mc") -> Path:
    """Render `mc_path` for the model's tokenizer into `out_dir`; return the YAML task path."""
    from mos.data.tokenizer import load_tokenizer

    out_dir = Path(out_dir).resolve()
    items = [obj for _, obj in read_jsonl(mc_path)]
    data = write_docs(out_dir / f"{name}.jsonl", render_testbed_mc(items, load_tokenizer(str(model_dir))))
    return write_task_yaml(out_dir / f"{name}.yaml", testbed_mc_task(data, name=name))


def export_mmlu_dev(mmlu_dev_path: str | Path, out_dir: str | Path, name: str = "mmlu_dev") -> Path:
    """A YAML task over the parsed MMLU dev file (absolute path); return its path."""
    return write_task_yaml(Path(out_dir).resolve() / f"{name}.yaml", mmlu_dev_task(mmlu_dev_path, name=name))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder whose tokenizer renders the prompts")
    ap.add_argument("--mc", required=True, help="testbed eval/mc.jsonl")
    ap.add_argument("--mmlu-dev", default=None, help="also export mmlu_dev.jsonl as a task")
    ap.add_argument("--out", required=True, help="output folder for the YAML tasks and rendered data")
    args = ap.parse_args(argv)
    paths = [export_testbed_mc(args.model, args.mc, args.out)]
    if args.mmlu_dev:
        paths.append(export_mmlu_dev(args.mmlu_dev, args.out))
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
