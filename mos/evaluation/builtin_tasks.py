"""lm-eval's own GSM8K and MATH tasks, as the paper's MoSpec evaluation uses them (Table 5: 5-shot).

    tasks = builtin_task_configs("gsm8k", "openai/gsm8k", num_fewshot=5)        # the hub dataset
    tasks = builtin_task_configs("gsm8k", "data/gsm8k_test.jsonl", num_fewshot=5)  # a local copy

Each benchmark is lm-eval's built-in task config (prompt, stop strings, answer filters, metric,
answer checking) taken from lm-eval's task index and returned as a plain dict with `num_fewshot`
set, so one `simple_evaluate` call can mix 0-shot and 5-shot tasks. `math` is the seven subjects of
lm-eval's `hendrycks_math` (Hendrycks et al.'s MATH, the dataset the paper names).

Generation is greedy, stated in each task (`do_sample: False`, `temperature: 0.0`, and lm-eval 0.4's
256 new tokens where the task sets no `max_gen_toks`): lm-eval's 2026 releases made `do_sample`
required and changed defaults, and a default that moves must not move our numbers.

The data is the hub dataset of the task, or — for an offline copy or a test — a local JSONL file
with the same columns (GSM8K: question, answer with "#### n"; MATH: problem, solution with
\\boxed{}, type): its lines serve as the test split and as the pool the few-shot examples are drawn
from (an item may then appear among its own shots; use the hub data for real numbers).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
from pathlib import Path
from typing import Any

HUB_DATASETS = {"gsm8k": "openai/gsm8k", "math": "EleutherAI/hendrycks_math"}
TASKS = {"gsm8k": ("gsm8k",),
         "math": ("hendrycks_math_algebra", "hendrycks_math_counting_and_prob", "hendrycks_math_geometry",
                  "hendrycks_math_intermediate_algebra", "hendrycks_math_num_theory", "hendrycks_math_prealgebra",
                  "hendrycks_math_precalc")}
# The `type` column of a local MATH file -> lm-eval's subject task.
MATH_TYPES = {"Algebra": "hendrycks_math_algebra", "Counting & Probability": "hendrycks_math_counting_and_prob",
              "Geometry": "hendrycks_math_geometry", "Intermediate Algebra": "hendrycks_math_intermediate_algebra",
              "Number Theory": "hendrycks_math_num_theory", "Prealgebra": "hendrycks_math_prealgebra",
              "Precalculus": "hendrycks_math_precalc"}
# What each benchmark reports: (lm-eval metric key, our metric name).
MAX_GEN_TOKS = 256  # lm-eval 0.4's HFLM.max_gen_toks, used by GSM8K and MATH, which set none
METRICS = {"gsm8k": (("exact_match,strict-match", "exact_match"), ("exact_match,flexible-extract", "exact_match_flexible")),
           "math": (("exact_match,none", "exact_match"),)}


@functools.cache
def _index() -> dict[str, Any]:
    from lm_eval.tasks import TaskManager

    return TaskManager()._index  # name -> entry with the task's resolved YAML config


def _load_function(ref: str):
    """'<folder>/utils.process_docs' (how lm-eval's index records `!function`) -> the function."""
    module_path, _, name = ref.rpartition(".")
    file = Path(module_path + ".py")
    spec = importlib.util.spec_from_file_location(f"mos_lm_eval_{file.parent.name}_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def builtin_config(task: str) -> dict[str, Any]:
    """A copy of lm-eval's config of a built-in task, `!function` references resolved."""
    entry = _index().get(task)
    if entry is None or not isinstance(entry.cfg, dict):
        raise KeyError(f"lm-eval has no task {task!r}")
    cfg = copy.deepcopy(entry.cfg)
    for key in ("process_docs", "process_results", "doc_to_text", "doc_to_target", "doc_to_choice"):
        value = cfg.get(key)
        if isinstance(value, str) and value.endswith((".process_docs", ".process_results")) and "/" in value:
            cfg[key] = _load_function(value)
    cfg.pop("tag", None)
    return cfg


def builtin_task_configs(benchmark: str, data: str, num_fewshot: int = 5,
                         cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Task dicts of a benchmark (`gsm8k` or `math`) over the hub dataset or a local JSONL copy."""
    if benchmark not in TASKS:
        raise KeyError(f"unknown built-in benchmark {benchmark!r}; valid: {', '.join(TASKS)}")
    local = Path(data).is_file()
    tasks = TASKS[benchmark]
    if local and benchmark == "math":  # only the subjects the file has (an empty task is an error)
        from mos.data.records import read_jsonl

        types = {obj.get("type") for _, obj in read_jsonl(data) if isinstance(obj, dict)}
        tasks = tuple(t for t in tasks if any(MATH_TYPES.get(ty) == t for ty in types))
        if not tasks:
            raise ValueError(f"{data}: no MATH problem has a known `type` ({', '.join(MATH_TYPES)})")
    configs = []
    for task in tasks:
        cfg = builtin_config(task)
        cfg["num_fewshot"] = int(num_fewshot)
        generation = dict(cfg.get("generation_kwargs") or {})
        cfg["generation_kwargs"] = {**generation, "do_sample": False, "temperature": 0.0,
                                    "max_gen_toks": generation.get("max_gen_toks", MAX_GEN_TOKS)}
        if local:
            files = {"train": str(Path(data).resolve()), "test": str(Path(data).resolve())}
            kwargs: dict[str, Any] = {"data_files": files}
            if cache_dir is not None:
                kwargs["cache_dir"] = str(cache_dir)
            cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs=kwargs)
            if benchmark == "math":
                cfg["process_docs"] = _subject_filter(cfg["process_docs"], task)
        configs.append(cfg)
    return configs


def _subject_filter(process_docs, task: str):
    """For a local MATH file: keep the rows whose `type` is this task's subject, then lm-eval's own step."""
    subject = next(t for t, name in MATH_TYPES.items() if name == task)

    def process(dataset):
        return process_docs(dataset.filter(lambda d: d.get("type") == subject))

    return process
