"""Evaluate models on the suite's benchmarks with lm-eval, and write tidy metrics.

    python -m mos evaluate --spec '{"model": "results/default/runs/tiny-llama/uniform/seed0/model",
        "benchmarks": {"testbed_mc": "resources/default/testbed/eval/mc.jsonl",
                       "mmlu_dev": "resources/mmlu_dev/mmlu_dev.jsonl",
                       "testbed_math": "resources/default/testbed/eval/math.jsonl"},
        "batch_size": 64}' --out results/default/runs/tiny-llama/uniform/seed0/eval [--threads 2]

    python -m mos evaluate --spec @a/spec.json --out a/eval --spec @b/spec.json --out b/eval ...

`--spec @file.json` reads the spec from a file. Repeated `--spec … --out …` pairs evaluate several
models in one process (paying the imports once); each pair is an independent evaluation, written
exactly as alone. Every spec and data file is checked before the first model is loaded (exit 2);
a pair that fails later is reported and skipped, the others still run (exit 1), and a failed pair
leaves no `metrics.csv`.

Spec keys: `model` (a local folder or hub id), `benchmarks` ({name: data path}), and optional
`batch_size` (rows per batch, default 64), `batch_tokens` (padded tokens per log-likelihood batch,
default 2048; see `mos.evaluation.lm`), `testbed_math_fewshot` (solved problems before each question,
default 0; the paper's GSM8K/MATH are 5-shot, the tiny models are trained zero-shot),
`testbed_math_max_gen_toks` (default 32) and `chat_template` (Jinja text forced on the model's
tokenizer, the one it was trained with; mos.data.chat_templates). Benchmarks (docs/interfaces.md, `mos.evaluation.tasks`):

- `testbed_mc` (path to the testbed's `mc.jsonl`): each prompt is the model's own chat template
  applied to the item's messages, each choice is the reply followed by the end token.
- `mmlu_dev` (path to `mmlu_dev.jsonl` from `python -m mos mmlu-dev`): zero-shot, lm-eval's
  standard MMLU prompt, one task over all questions.
- `testbed_math` (path to the testbed's `math.jsonl`, the GSM8K/MATH analogue of MoSpec, paper
  Table 5): greedy generation from the chat-template prompt of the question until the end token;
  exact match of the reply's last integer with `answer`. Raw generations are in the samples file.
- `mmlu` (the hub dataset id, `cais/mmlu`): lm-eval's built-in `mmlu_<subject>` tasks, zero-shot.
  It needs the dataset from the Hugging Face hub (or its local cache); offline it stops with a
  message saying so.
- `gsm8k`, `math` (the hub dataset id, or a local JSONL file with the hub's columns): lm-eval's own
  GSM8K and MATH (`hendrycks_math`) tasks, `math_fewshot` shots (default 5, as the paper's Table 5;
  `mos.evaluation.builtin_tasks`). GSM8K reports `exact_match` (strict "#### n" answers) and
  `exact_match_flexible` (last number); MATH `exact_match` overall (all problems) and per subject.
- `testbed_chat`, `mt_bench` (path to a two-turn question file, `mos.evaluation.chat_bench`): the model
  answers every question in two turns (turn 2 sees its own turn-1 answer) with the `generation`
  settings (`mos.evaluation.generation`: transformers or vLLM, greedy); the answers are written in FastChat's
  layout to `<out>/<benchmark>/model_answer/<model_id>.jsonl` for `python -m mos judge` to grade.
  They add no rows to `metrics.csv` (the judge writes `judge_metrics.csv`).

All benchmarks of a model run in one `lm_eval.simple_evaluate` call (lm-eval's `hf` model with
token-budget batches, `mos.evaluation.lm.ScoringHFLM`; float32, CUDA when available, else CPU). Outputs
in `--out`: `metrics.csv` (`benchmark, scope, name, metric, value, n_items`; per benchmark an
overall row, group rows (paper Table 7 groups), skill rows (testbed_mc only), all unweighted means
over subjects, then one row per subject; testbed_math's subjects are its levels, one_step and
two_step), and `lm_eval/` with the rendered data, `results.json` and one `samples_<task>.jsonl` per
task. The model is told to add its BOS token to plain prompts when its chat template starts with
one (see `wants_bos`); prompts that already start with it are not given a second one. Every file is
written atomically and `metrics.csv` last, so its presence marks a finished run. An unknown
benchmark, a missing data file or a missing model folder stops the command before any model is
loaded.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_csv
from mos.data.records import DataError, read_jsonl
from mos.evaluation.chat_bench import (
    CHAT_BENCHMARKS,
    answer_questions,
    answers_path,
    load_questions,
    write_answers,
)
from mos.evaluation.generation import GenerationSettings
from mos.evaluation.metrics import COLUMNS, ITEM_COLUMNS, metric_rows
from mos.evaluation.mmlu_dev import subject_groups
from mos.evaluation.tasks import (
    MMLU_HUB_DATASET,
    mmlu_dev_prompt_task,
    mmlu_task_names,
    render_mmlu_dev,
    render_testbed_math,
    render_testbed_mc,
    testbed_math_task,
    testbed_mc_task,
    write_docs,
)

CHAT_BENCHMARKS_SET = set(CHAT_BENCHMARKS)

BENCHMARKS = ("testbed_mc", "mmlu_dev", "mmlu", "testbed_math", "gsm8k", "math", "testbed_chat", "mt_bench")
HUB_BENCHMARKS = ("mmlu", "gsm8k", "math")  # lm-eval's built-in tasks: hub data (gsm8k/math: or a local copy)
# Per benchmark: the metrics reported and the scopes between overall and subject.
REPORTED = {
    "testbed_mc": (("acc", "acc_norm"), ("group", "skill")),
    "mmlu_dev": (("acc",), ("group",)),
    "mmlu": (("acc",), ("group",)),
    "testbed_math": (("exact_match",), ()),
    "gsm8k": (("exact_match", "exact_match_flexible"), ()),
    "math": (("exact_match",), ()),
}
GSM8K_KEYS = ("question", "answer")
MATH_KEYS = ("problem", "solution", "type")
DATA_KEYS = {
    "testbed_mc": ("id", "skill", "subject", "group", "messages", "choices", "answer"),
    "mmlu_dev": ("id", "subject", "group", "question", "choices", "answer"),
    "testbed_math": ("id", "question", "answer", "solution"),
}
# Optional spec keys: default and smallest valid value.
OPTIONS = {"batch_size": (64, 1), "batch_tokens": (2048, 1), "testbed_math_fewshot": (0, 0), "math_fewshot": (5, 0),
           "testbed_math_max_gen_toks": (32, 1)}
_INTEGER = re.compile(r"-?\d+")


class SpecError(ValueError):
    """The evaluation spec is invalid; the message names the key or file."""


def load_spec(arg: str) -> dict[str, Any]:
    """The spec from a JSON string or from `@path/to/spec.json` (a run.json-style object)."""
    text = Path(arg[1:]).read_text(encoding="utf-8") if arg.startswith("@") else arg
    spec = json.loads(text)
    if not isinstance(spec, dict):
        raise SpecError("the spec must be a JSON object")
    return spec


def check_mc_item(obj: Mapping[str, Any], where: str) -> None:
    """`choices` is a list of at least two strings and `answer` an index into it."""
    choices, answer = obj["choices"], obj["answer"]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{where}: 'choices' must be a list of at least two strings")
    if not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise DataError(f"{where}: 'answer' {answer!r} is not an index into its {len(choices)} choices")


def check_math_item(obj: Mapping[str, Any], where: str) -> None:
    """`question` and `solution` are strings and `answer` an integer (or a string holding one)."""
    if not isinstance(obj["question"], str) or not isinstance(obj["solution"], str):
        raise DataError(f"{where}: 'question' and 'solution' must be strings")
    answer = obj["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int | str) or not _INTEGER.fullmatch(str(answer)):
        raise DataError(f"{where}: 'answer' {answer!r} is not an integer")


def read_items(path: Path, benchmark: str) -> list[dict[str, Any]]:
    """A benchmark JSONL file, every line checked for what the evaluation needs."""
    keys, check = DATA_KEYS[benchmark], check_math_item if benchmark == "testbed_math" else check_mc_item
    items = []
    for lineno, obj in read_jsonl(path):
        missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
        if missing:
            raise DataError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}")
        check(obj, f"{path}:{lineno}")
        items.append(obj)
    if not items:
        raise DataError(f"{path}: no items")
    return items


def load_data(spec: Mapping[str, Any], cache: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """Every benchmark's checked items (None for the hub MMLU, whose dataset is only reached).

    `cache` (shared between the specs of one command) reads each file once.
    """
    cache = {} if cache is None else cache
    data: dict[str, Any] = {}
    for name, path in spec["benchmarks"].items():
        local = Path(str(path)).is_file()
        key = (name, str(Path(path).resolve()) if local else str(path))
        if key not in cache:
            if name == "mmlu":
                cache[key] = check_mmlu_hub(str(path))
            elif name in CHAT_BENCHMARKS:
                cache[key] = load_questions(path)
            elif name in ("gsm8k", "math"):
                cache[key] = check_builtin_data(name, str(path))
            else:
                cache[key] = read_items(Path(path), name)
        data[name] = cache[key]
    for name, shots in (("gsm8k", 5), ("math", spec["math_fewshot"])):
        if isinstance(data.get(name), int) and data[name] <= shots:
            raise SpecError(f"spec.benchmarks.{name}: {shots}-shot evaluation of a local file needs more than "
                            f"{shots} problems, {spec['benchmarks'][name]} has {data[name]}")
    math = data.get("testbed_math")
    if math is not None and spec["testbed_math_fewshot"] >= len(math):
        raise SpecError(f"spec.testbed_math_fewshot: {spec['testbed_math_fewshot']} shots need more than "
                        f"{len(math)} problems")
    return data


def check_builtin_data(benchmark: str, data: str) -> int | None:
    """A local GSM8K/MATH copy has the hub's columns on every line; a hub dataset can be loaded."""
    path = Path(data)
    if path.is_file():
        keys = GSM8K_KEYS if benchmark == "gsm8k" else MATH_KEYS
        n = 0
        for lineno, obj in read_jsonl(path):
            missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
            if missing:
                raise DataError(f"{path}:{lineno}: missing key(s) {', '.join(missing)} of a {benchmark} problem")
            n += 1
        if not n:
            raise DataError(f"{path}: no items")
        return n
    from mos.evaluation.builtin_tasks import HUB_DATASETS

    if data != HUB_DATASETS[benchmark]:
        raise SpecError(f"benchmarks.{benchmark}: expected the hub dataset {HUB_DATASETS[benchmark]!r} or a local "
                        f"JSONL file; got {data!r}")
    import datasets

    try:
        datasets.load_dataset_builder(data, "main" if benchmark == "gsm8k" else "algebra")
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        raise SpecError(f"benchmarks.{benchmark} needs the hub dataset {data} (downloaded, or in the local Hugging "
                        f"Face cache), which cannot be loaded here ({type(e).__name__}: {e}). Offline, give a "
                        f"local JSONL copy with the same columns instead.") from None


def check_mmlu_hub(dataset: str) -> None:
    """Fail early, with a clear message, when the MMLU hub dataset cannot be loaded."""
    if dataset != MMLU_HUB_DATASET:
        raise SpecError(f"benchmarks.mmlu: lm-eval's built-in MMLU tasks read {MMLU_HUB_DATASET!r}; got {dataset!r}")
    import datasets

    try:
        datasets.load_dataset_builder(MMLU_HUB_DATASET, next(iter(subject_groups())))
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        raise SpecError(
            f"benchmarks.mmlu needs the hub dataset {MMLU_HUB_DATASET} (downloaded, or in the local "
            f"Hugging Face cache), which cannot be loaded here ({type(e).__name__}: {e}). Offline, "
            f"use the mmlu_dev benchmark (MMLU dev questions shipped with lm-eval) instead."
        ) from None


def looks_local(model: str) -> bool:
    """A path rather than a hub id ("org/name")."""
    return model.startswith((".", "/", "~")) or model.count("/") != 1


def validate_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check names and files before anything heavy is loaded; returns the resolved spec."""
    for key in ("model", "benchmarks"):
        if key not in spec:
            raise SpecError(f"spec: missing key {key!r}")
    benchmarks = spec["benchmarks"]
    if not isinstance(benchmarks, dict) or not benchmarks:
        raise SpecError("spec.benchmarks must be a non-empty object {name: data path}")
    unknown = [b for b in benchmarks if b not in BENCHMARKS]
    if unknown:
        raise SpecError(f"spec.benchmarks: unknown benchmark(s) {', '.join(map(repr, unknown))}; "
                        f"valid: {', '.join(BENCHMARKS)}")
    for name, path in benchmarks.items():
        if name not in HUB_BENCHMARKS and not Path(str(path)).is_file():
            raise SpecError(f"spec.benchmarks.{name}: data file {path!r} not found")
    model = str(spec["model"])
    if Path(model).exists():
        model = str(Path(model).resolve())
    elif looks_local(model) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise SpecError(f"spec.model: model folder {model!r} not found")
    resolved = {"model": model, "benchmarks": dict(benchmarks)}
    template = spec.get("chat_template")
    if template is not None:  # forced on the backbone (mos.data.chat_templates), as in training
        if not isinstance(template, str) or not template.strip():
            raise SpecError(f"spec.chat_template must be Jinja text, got {template!r}")
        resolved["chat_template"] = template
    if CHAT_BENCHMARKS_SET & set(benchmarks):
        try:
            resolved["generation"] = GenerationSettings.from_dict(spec.get("generation")).to_dict()
        except (TypeError, ValueError) as e:
            raise SpecError(f"spec.generation: {e}") from None
        model_id = spec.get("model_id") or Path(model).name
        if not isinstance(model_id, str) or not re.fullmatch(r"[\w.+-]+", model_id):
            raise SpecError(f"spec.model_id must be a file-name-safe string, got {model_id!r}")
        resolved["model_id"] = model_id
    for key, (default, least) in OPTIONS.items():
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise SpecError(f"spec.{key} must be an integer >= {least}, got {value!r}")
        resolved[key] = value
    return resolved


def wants_bos(tokenizer: Any) -> bool | None:
    """True when the model's chat template starts sequences with its BOS token.

    Such a model saw BOS first in every training sequence, so lm-eval is told to prepend it to plain
    prompts (MMLU) too; prompts that already start with BOS (the rendered chat template) are left as
    they are by lm-eval. Otherwise None keeps the tokenizer's own default.
    """
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    return True if tokenizer.bos_token and "bos_token" in template else None


def build_tasks(spec: Mapping[str, Any], data: Mapping[str, Any], tokenizer: Any, data_dir: Path,
                cache_dir: Path) -> list[Any]:
    """lm-eval task specs (dicts or built-in names) of every benchmark, rendering data as needed."""
    tasks: list[Any] = []
    for name, items in data.items():
        if name == "testbed_mc":
            docs = write_docs(data_dir / f"{name}.jsonl", render_testbed_mc(items, tokenizer))
            tasks.append(testbed_mc_task(docs, cache_dir=cache_dir))
        elif name == "mmlu_dev":
            docs = write_docs(data_dir / f"{name}.jsonl", render_mmlu_dev(items))
            tasks.append(mmlu_dev_prompt_task(docs, cache_dir=cache_dir))
        elif name == "testbed_math":
            shots = spec["testbed_math_fewshot"]
            docs = write_docs(data_dir / f"{name}.jsonl", render_testbed_math(items, tokenizer, shots))
            stop = [tokenizer.eos_token] if tokenizer.eos_token else []
            tasks.append(testbed_math_task(docs, stop, spec["testbed_math_max_gen_toks"], cache_dir=cache_dir,
                                           num_fewshot=shots))
        elif name in ("gsm8k", "math"):
            from mos.evaluation.builtin_tasks import builtin_task_configs

            shots = 5 if name == "gsm8k" else spec["math_fewshot"]
            tasks += builtin_task_configs(name, str(spec["benchmarks"][name]), shots, cache_dir=cache_dir)
        elif name == "mmlu":
            tasks += list(mmlu_task_names())
    return tasks


@functools.cache
def task_manager(include_defaults: bool) -> Any:
    """lm-eval's task index, built once per process (the built-in one takes seconds)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=include_defaults)


def run_lm_eval(spec: Mapping[str, Any], tasks: list[Any], add_bos: bool | None) -> dict[str, Any]:
    """One `simple_evaluate` call over all tasks (float32; CUDA if available, else CPU)."""
    import lm_eval
    import torch

    from mos.evaluation.lm import ScoringHFLM, quiet_env_info

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_args: dict[str, Any] = {"pretrained": spec["model"], "dtype": "float32"}
    if add_bos is not None:
        model_args["add_bos_token"] = add_bos
    lm = ScoringHFLM(**model_args, device=device, batch_size=spec["batch_size"], batch_tokens=spec["batch_tokens"])
    try:
        with quiet_env_info():
            results = lm_eval.simple_evaluate(
                model=lm, tasks=tasks, batch_size=spec["batch_size"], device=device, log_samples=True,
                task_manager=task_manager(any(isinstance(t, str) for t in tasks)),
            )
    finally:
        del lm
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    results["config"]["model_args"] = {**model_args, "batch_tokens": spec["batch_tokens"]}
    return results


def write_raw(out: Path, results: Mapping[str, Any]) -> None:
    """lm-eval's results (without samples) as results.json, samples as samples_<task>.jsonl."""
    for task, samples in results.get("samples", {}).items():
        text = "".join(json.dumps(s, ensure_ascii=False, default=str) + "\n" for s in samples)
        atomic_write_text(out / f"samples_{task}.jsonl", text)
    summary = {k: v for k, v in results.items() if k != "samples"}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")


def scored_items(benchmark: str, samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Per-item scores with their subject/group (and skill) labels, from lm-eval's logged samples.

    testbed_math's subjects are its levels (one_step, two_step; "all" for items without one).
    """
    if benchmark in ("gsm8k", "math"):
        return builtin_items(benchmark, samples)
    metrics, _ = REPORTED[benchmark]
    if benchmark == "mmlu":
        groups = subject_groups()
        return [{"item": f"{subject}:{s['doc_id']}", "subject": subject, "group": groups[subject],
                 **{m: s[m] for m in metrics}} for task, subject in mmlu_task_names().items() for s in samples[task]]
    if benchmark == "testbed_math":
        return [{"item": str(s["doc_id"]), "subject": s["doc"].get("level") or "all", **{m: s[m] for m in metrics}}
                for s in samples[benchmark]]
    return [{"item": str(s["doc_id"]), **{k: s["doc"][k] for k in ("subject", "group", "skill") if k in s["doc"]},
             **{m: s[m] for m in metrics}} for s in samples[benchmark]]


def builtin_items(benchmark: str, samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """GSM8K/MATH per-item scores; subjects are MATH's subjects (GSM8K has one, "all")."""
    from mos.evaluation.builtin_tasks import METRICS, TASKS

    items: dict[tuple[str, int], dict[str, Any]] = {}
    for task in TASKS[benchmark]:
        for s in samples.get(task, []):
            item = items.setdefault((task, s["doc_id"]), {"item": f"{task}:{s['doc_id']}",
                                                          "subject": task.removeprefix("hendrycks_math_")
                                                          if benchmark == "math" else "all"})
            for key, name in METRICS[benchmark]:
                metric, _, filt = key.partition(",")
                if s.get("filter", "none") == filt and metric in s:
                    item[name] = float(s[metric])
    return list(items.values())


def chat_answers(spec: Mapping[str, Any], data: Mapping[str, Any], out: Path) -> None:
    """Answer every chat benchmark's questions (two turns) and write them."""
    from mos.evaluation.generation import make_generator

    names = [n for n in spec["benchmarks"] if n in CHAT_BENCHMARKS_SET]
    if not names:
        return
    settings = GenerationSettings(**spec["generation"])
    generator = make_generator(spec["model"], settings, spec.get("chat_template"))
    for name in names:
        records = answer_questions(generator, data[name], spec["model_id"], settings.to_dict())
        shutil.rmtree(out / name, ignore_errors=True)  # no stale answers or judgments
        write_answers(answers_path(out, name, spec["model_id"]), records)
    del generator
    gc.collect()


def evaluate(spec: Mapping[str, Any], out: str | Path, threads: int | None = None,
             data: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run every benchmark of a validated spec; write outputs to `out`; return the metric rows.

    `data` is `load_data(spec)` when already read.
    """
    import torch

    from mos.data.tokenizer import load_tokenizer

    if threads:
        torch.set_num_threads(threads)
    data = load_data(spec) if data is None else data
    out = Path(out)
    (out / "metrics.csv").unlink(missing_ok=True)
    raw = out / "lm_eval"
    shutil.rmtree(raw, ignore_errors=True)  # no stale raw outputs from an earlier run
    scored = [b for b in spec["benchmarks"] if b not in CHAT_BENCHMARKS_SET]
    rows, item_rows = [], []
    if scored:
        tokenizer = load_tokenizer(spec["model"], spec.get("chat_template"))
        with tempfile.TemporaryDirectory(prefix="mos-eval-datasets-") as cache_dir:
            tasks = build_tasks(spec, {b: data[b] for b in scored}, tokenizer, raw / "data", Path(cache_dir))
            results = run_lm_eval(spec, tasks, wants_bos(tokenizer))
        write_raw(raw, results)
        for benchmark in scored:
            metrics, scopes = REPORTED[benchmark]
            items = scored_items(benchmark, results["samples"])
            item_rows += [{"benchmark": benchmark, "item": i["item"], "subject": i["subject"], "metric": m,
                           "value": i[m]} for i in items for m in metrics if m in i]
            bench_rows = metric_rows(benchmark, items, metrics, scopes)
            if benchmark == "math":  # MATH's accuracy is over all problems (lm-eval weights subjects by size)
                for row in bench_rows:
                    if row["scope"] == "overall":
                        row["value"] = sum(i[row["metric"]] for i in items) / len(items)
            rows += bench_rows
    chat_answers(spec, data, out)
    write_csv(out / "items.csv", item_rows, ITEM_COLUMNS)
    write_csv(out / "metrics.csv", rows, COLUMNS)
    return rows


def prepare(spec_args: Sequence[str], outs: Sequence[str]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(resolved spec, output folder, data) per pair; raises on the first invalid spec or data file."""
    if len(spec_args) != len(outs):
        raise SpecError(f"got {len(spec_args)} --spec but {len(outs)} --out: give them in pairs")
    folders = [str(Path(o).resolve()) for o in outs]
    if len(set(folders)) != len(folders):
        raise SpecError("two pairs write to the same --out folder")
    jobs, cache = [], {}
    for k, (arg, out) in enumerate(zip(spec_args, outs, strict=True)):
        try:
            spec = validate_spec(load_spec(arg))
            jobs.append((spec, out, load_data(spec, cache)))
        except (SpecError, DataError, json.JSONDecodeError, OSError) as e:
            label = f"--spec #{k + 1} (--out {out}): " if len(outs) > 1 else ""
            raise SpecError(f"{label}{e}") from e
    return jobs


def report(rows: Sequence[Mapping[str, Any]], out: str, seconds: float) -> None:
    """Print the non-subject rows and where they went."""
    for row in rows:
        if row["scope"] != "subject":
            print(f"{row['benchmark']:12s} {row['scope']:8s} {row['name']:14s} {row['metric']:11s} "
                  f"{row['value']:.4f}  (n={row['n_items']})")
    print(f"mos.evaluation.evaluate: {len(rows)} rows -> {Path(out) / 'metrics.csv'} ({seconds:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", action="append", required=True, help="JSON spec, or @file.json (repeatable)")
    ap.add_argument("--out", action="append", required=True,
                    help="output folder (metrics.csv, lm_eval/) of the --spec at the same position")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--combined", default=None,
                    help="also write every evaluation's metrics into this one CSV (column `run` = its --out)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        jobs = prepare(args.spec, args.out)
    except SpecError as e:
        print(f"mos.evaluation.evaluate: {e}", file=sys.stderr)
        return 2
    failed, combined = [], []
    for spec, out, data in jobs:
        began = time.perf_counter()
        try:
            rows = evaluate(spec, out, args.threads, data)
            combined += [{"run": str(out), **row} for row in rows]
        except Exception as e:  # noqa: BLE001 - one model's failure must not stop the others
            traceback.print_exc()
            print(f"mos.evaluation.evaluate: {out}: failed ({type(e).__name__}: {e})", file=sys.stderr)
            failed.append(out)
            continue
        report(rows, out, time.perf_counter() - began)
    if len(jobs) > 1:
        print(f"mos.evaluation.evaluate: {len(jobs) - len(failed)}/{len(jobs)} evaluations done "
              f"({time.perf_counter() - start:.1f} s in all)")
    if failed:
        print(f"mos.evaluation.evaluate: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if args.combined:
        write_csv(args.combined, combined, ["run", *COLUMNS])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
