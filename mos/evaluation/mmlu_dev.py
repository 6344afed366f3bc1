"""Parse the MMLU dev questions that the installed lm-eval package ships, for offline evaluation.

lm-eval's `mmlu/flan_cot_fewshot/mmlu_<subject>.yaml` files hold the MMLU dev exemplars of every
subject as few-shot samples: a `question` whose four options follow inline as
"(A) … (B) … (C) … (D) …" and a chain-of-thought `target` ending "The answer is (X).". This module
turns them into multiple-choice items

    {"id", "subject", "group", "question", "choices": [4 × str], "answer": int}

with `group` from `mos/evaluation/mmlu_subject_groups.csv` (the paper's Table 7). Samples that do not
have exactly the options A–D (one upstream sample has five) are skipped and reported; a subject
with no usable question is an error. The package is located with `importlib`, never by a fixed
path.

    python -m mos mmlu-dev --out resources/mmlu_dev/mmlu_dev.jsonl
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from mos.data.records import write_jsonl

GROUPS_CSV = Path(__file__).with_name("mmlu_subject_groups.csv")
LETTERS = "ABCD"
# The question, then the options (A)..(D), each introduced by a space or a newline.
_OPTIONS = re.compile(
    r"\A(?P<q>.*?)\s+\(A\)\s*(?P<A>.*?)\s+\(B\)\s*(?P<B>.*?)\s+\(C\)\s*(?P<C>.*?)\s+\(D\)\s*(?P<D>.*?)\s*\Z",
    re.S,
)
_ANSWER = re.compile(r"answer is \(([A-Z])\)")


def subject_groups(path: str | Path = GROUPS_CSV) -> dict[str, str]:
    """subject -> group (Mathematics, Medicine, Others) of the 57 MMLU subjects (paper Table 7)."""
    with open(path, newline="", encoding="utf-8") as f:
        return {row["subject"]: row["group"] for row in csv.DictReader(f)}


def lm_eval_mmlu_dir() -> Path:
    """The `tasks/mmlu/flan_cot_fewshot` folder of the installed lm-eval package."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("lm-eval is not installed: `pip install lm-eval` (base package)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tasks" / "mmlu" / "flan_cot_fewshot"
    if not folder.is_dir():
        raise RuntimeError(f"{folder}: not found; this lm-eval version does not ship the MMLU CoT exemplars")
    return folder


def parse_sample(question: str, target: str) -> tuple[str, list[str], int] | None:
    """(question, 4 choices, answer index) of one few-shot sample, or None if it is not A–D."""
    if "(E)" in question:
        return None
    m = _OPTIONS.match(question.strip())
    answers = _ANSWER.findall(target)
    if m is None or not answers or answers[-1] not in LETTERS:
        return None
    choices = [m.group(letter).strip() for letter in LETTERS]
    if not m.group("q").strip() or not all(choices):
        return None
    return m.group("q").strip(), choices, LETTERS.index(answers[-1])


def subject_samples(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """subject -> the raw few-shot samples of its YAML file."""
    out = {}
    for path in sorted(folder.glob("mmlu_*.yaml")):
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[cfg["dataset_name"]] = cfg.get("fewshot_config", {}).get("samples", [])
    return out


def parse_mmlu_dev(folder: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """All parsed items (subject order of Table 7) and, per subject, how many samples were skipped."""
    groups = subject_groups()
    raw = subject_samples(folder or lm_eval_mmlu_dir())
    missing = sorted(set(groups) - set(raw))
    if missing:
        raise RuntimeError(f"lm-eval ships no MMLU exemplars for {len(missing)} subjects: {', '.join(missing)}")
    items, skipped = [], Counter()
    for subject, group in groups.items():
        n = 0
        for sample in raw[subject]:
            parsed = parse_sample(str(sample.get("question", "")), str(sample.get("target", "")))
            if parsed is None:
                skipped[subject] += 1
                continue
            question, choices, answer = parsed
            n += 1
            items.append({"id": f"{subject}-{n:02d}", "subject": subject, "group": group,
                          "question": question, "choices": choices, "answer": answer})
        if n == 0:
            raise RuntimeError(f"MMLU subject {subject!r}: no question could be parsed from lm-eval's exemplars")
    return items, dict(skipped)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output JSONL file")
    args = ap.parse_args(argv)
    items, skipped = parse_mmlu_dev()
    write_jsonl(args.out, items)
    per_subject = Counter(item["subject"] for item in items)
    for subject, n in per_subject.items():
        note = f" ({skipped[subject]} skipped: not 4 options A-D)" if subject in skipped else ""
        print(f"{subject:40s} {n}{note}")
    print(f"mmlu_dev: {len(items)} questions, {len(per_subject)} subjects -> {args.out}")


if __name__ == "__main__":
    main()
