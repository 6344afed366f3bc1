"""Evaluate models on the suite's benchmarks (`mos.evaluation.benchmarks`) and write tidy metrics.

    python -m mos evaluate --spec '{"model": "results/default/runs/tiny-llama/uniform/seed0/model",
        "benchmarks": {"testbed_mc": "resources/default/testbed/eval/mc.jsonl",
                       "mmlu_dev": "resources/mmlu_dev/mmlu_dev.jsonl"}}' --out DIR [--threads 2]
    python -m mos evaluate --spec @a/spec.json --out a/eval --spec @b/spec.json --out b/eval ...

Spec (docs/interfaces.md): `model` (a folder or hub id), `benchmarks` ({name: data file or hub id}),
optional `batch_size` (64), `batch_tokens` (2048, `mos.evaluation.lm`), `chat_template` (forced on the
tokenizer, as in training), each benchmark's options as `<benchmark>_<option>` (`python -m mos
benchmarks` lists them), and for judged benchmarks `generation` and `model_id`.

Every spec and data file is checked before the first model is loaded (exit 2). Each --spec/--out
pair is evaluated as if alone; one that fails later is reported and skipped (exit 1). All lm-eval
tasks of a model run in one `lm_eval.simple_evaluate` call; judged benchmarks (two-turn chat) are
answered by generation into `<out>/<benchmark>/model_answer/<model_id>.jsonl` for `mos judge`.
`--out` gets `lm_eval/` (rendered data, results.json, samples_<task>.jsonl), `items.csv` and, written
last so that its presence marks a finished run, `metrics.csv`.
"""

from __future__ import annotations

import argparse
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
from mos.common.spec import read_spec
from mos.data.records import DataError
from mos.evaluation.benchmarks import Benchmark, BenchmarkError, build, options
from mos.evaluation.benchmarks.base import SpecError, spec_integer
from mos.evaluation.generation import GenerationSettings
from mos.evaluation.metrics import COLUMNS, ITEM_COLUMNS

OPTIONS = {"batch_size": (64, 1), "batch_tokens": (2048, 1)}  # spec key: (default, least)


def benchmarks_of(spec: Mapping[str, Any]) -> dict[str, Benchmark]:
    """The spec's benchmarks with their options, by name."""
    try:
        return {name: build(name, spec) for name in spec["benchmarks"]}
    except BenchmarkError as e:
        raise SpecError(f"spec.benchmarks: {e}") from None


def validate_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check names and files before anything heavy is loaded; returns the resolved spec."""
    for key in ("model", "benchmarks"):
        if key not in spec:
            raise SpecError(f"spec: missing key {key!r}")
    if not isinstance(spec["benchmarks"], dict) or not spec["benchmarks"]:
        raise SpecError("spec.benchmarks must be a non-empty object {name: data path}")
    benchmarks = benchmarks_of(spec)
    for name, path in spec["benchmarks"].items():
        if benchmarks[name].hub is None and not Path(str(path)).is_file():
            raise SpecError(f"spec.benchmarks.{name}: data file {path!r} not found")
    model = str(spec["model"])
    if Path(model).exists():
        model = str(Path(model).resolve())
    elif (model.startswith((".", "/", "~")) or model.count("/") != 1  # a folder, not a hub id "org/name"
          or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")):
        raise SpecError(f"spec.model: model folder {model!r} not found")
    resolved = {"model": model, "benchmarks": dict(spec["benchmarks"])}
    template = spec.get("chat_template")
    if template is not None:  # forced on the backbone (mos.data.chat_templates), as in training
        if not isinstance(template, str) or not template.strip():
            raise SpecError(f"spec.chat_template must be Jinja text, got {template!r}")
        resolved["chat_template"] = template
    if any(b.judged for b in benchmarks.values()):
        try:
            resolved["generation"] = GenerationSettings.from_dict(spec.get("generation")).to_dict()
        except (TypeError, ValueError) as e:
            raise SpecError(f"spec.generation: {e}") from None
        model_id = spec.get("model_id") or Path(model).name
        if not isinstance(model_id, str) or not re.fullmatch(r"[\w.+-]+", model_id):
            raise SpecError(f"spec.model_id must be a file-name-safe string, got {model_id!r}")
        resolved["model_id"] = model_id
    resolved.update({key: spec_integer(spec, key, *default_least) for key, default_least in OPTIONS.items()})
    for bench in benchmarks.values():
        resolved.update({key: getattr(bench, f.name) for key, f in options(type(bench)).items()})
    return resolved


def load_data(spec: Mapping[str, Any], cache: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """Every benchmark's checked data; `cache` (shared by the specs of one command) reads each file once."""
    cache = {} if cache is None else cache
    data: dict[str, Any] = {}
    for name, bench in benchmarks_of(spec).items():
        path = str(spec["benchmarks"][name])
        key = (name, str(Path(path).resolve()) if Path(path).is_file() else path)
        if key not in cache:
            cache[key] = bench.load(path)
        data[name] = cache[key]
        bench.check(data[name])
    return data


def run_lm_eval(spec: Mapping[str, Any], tasks: list[Any], add_bos: bool | None) -> dict[str, Any]:
    """One `simple_evaluate` call over all tasks (float32; CUDA if available, else CPU)."""
    import lm_eval
    import torch

    from mos.evaluation.lm import ScoringHFLM, quiet_env_info, task_manager

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_args: dict[str, Any] = {"pretrained": spec["model"], "dtype": "float32"}
    if add_bos is not None:
        model_args["add_bos_token"] = add_bos
    lm = ScoringHFLM(**model_args, device=device, batch_size=spec["batch_size"],
                     batch_tokens=spec["batch_tokens"])
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
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(out / "results.json", text)


def answer(spec: Mapping[str, Any], judged: Mapping[str, Benchmark], data: Mapping[str, Any],
           out: Path) -> None:
    """Answer every judged benchmark's questions with one generator and write the answers."""
    from mos.evaluation.chat_bench import answers_path, write_answers
    from mos.evaluation.generation import make_generator

    settings = GenerationSettings(**spec["generation"])
    generator = make_generator(spec["model"], settings, spec.get("chat_template"))
    for name, bench in judged.items():
        records = bench.answer(generator, data[name], spec["model_id"], settings.to_dict())
        shutil.rmtree(out / name, ignore_errors=True)  # no stale answers or judgments
        write_answers(answers_path(out, name, spec["model_id"]), records)
    del generator
    gc.collect()


def evaluate(spec: Mapping[str, Any], out: str | Path, threads: int | None = None,
             data: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run every benchmark of a validated spec (`data`: its `load_data`); write outputs; return the rows."""
    import torch

    from mos.data.tokenizer import load_tokenizer
    from mos.evaluation.lm import wants_bos

    if threads:
        torch.set_num_threads(threads)
    data = load_data(spec) if data is None else data
    out = Path(out)
    (out / "metrics.csv").unlink(missing_ok=True)
    raw = out / "lm_eval"
    shutil.rmtree(raw, ignore_errors=True)  # no stale raw outputs from an earlier run
    benchmarks = benchmarks_of(spec)
    scored = {n: b for n, b in benchmarks.items() if not b.judged}
    rows, item_rows = [], []
    if scored:
        tokenizer = load_tokenizer(spec["model"], spec.get("chat_template"))
        with tempfile.TemporaryDirectory(prefix="mos-eval-datasets-") as cache_dir:
            tasks = [t for n, b in scored.items()
                     for t in b.tasks(data[n], tokenizer, raw / "data", Path(cache_dir))]
            results = run_lm_eval(spec, tasks, wants_bos(tokenizer))
        write_raw(raw, results)
        for name, bench in scored.items():
            items = bench.items(results["samples"])
            item_rows += [{"benchmark": name, "item": i["item"], "subject": i["subject"], "metric": m,
                           "value": i[m]} for i in items for m in bench.metrics if m in i]
            rows += bench.rows(items)
    judged = {n: b for n, b in benchmarks.items() if b.judged}
    if judged:
        answer(spec, judged, data, out)
    write_csv(out / "items.csv", item_rows, ITEM_COLUMNS)
    write_csv(out / "metrics.csv", rows, COLUMNS)
    return rows


def prepare(spec_args: Sequence[str], outs: Sequence[str]) -> list[tuple[dict[str, Any], str, dict]]:
    """(resolved spec, output folder, data) per pair; raises on the first invalid spec or data file."""
    if len(spec_args) != len(outs):
        raise SpecError(f"got {len(spec_args)} --spec but {len(outs)} --out: give them in pairs")
    folders = [str(Path(o).resolve()) for o in outs]
    if len(set(folders)) != len(folders):
        raise SpecError("two pairs write to the same --out folder")
    jobs, cache = [], {}
    for k, (arg, out) in enumerate(zip(spec_args, outs, strict=True)):
        try:
            spec = validate_spec(read_spec(arg))
            jobs.append((spec, out, load_data(spec, cache)))
        except (SpecError, DataError, OSError, SystemExit) as e:  # read_spec exits with its message
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
