"""Evaluation of trained models: the `evaluate` command (orchestration: one lm-eval call per model,
two-turn answers), the benchmarks (`benchmarks/`: one file each, a contract in `benchmarks/base`,
found by the registry in `benchmarks/__init__`), shared lm-eval task pieces and the model wrapper
(`tasks`, `builtin_tasks`, `lm`, `export_task`), MMLU dev and MT-Bench data (`mmlu_dev`,
`mt_bench_data`, `subset`), two-turn answering (`chat_bench`, `generation`), judges and grading
(`judges/`, `judge`), and metric rows (`metrics`). May import `mos.models` (to load models),
`mos.data` and `mos.common`; nothing of training."""
