"""Evaluation of trained models: the `evaluate` command (lm-eval benchmarks and two-turn answers),
lm-eval task configs and model wrapper (`tasks`, `builtin_tasks`, `lm`, `export_task`), MMLU dev
and MT-Bench data (`mmlu_dev`, `mt_bench_data`), two-turn answering (`chat_bench`, `generation`),
judges and grading (`judges/`, `judge`), and metric rows (`metrics`). May import `mos.models`
(to load models), `mos.data` and `mos.common`; nothing of training."""
