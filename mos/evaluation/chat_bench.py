"""MT-Bench-style two-turn benchmarks: question sets, answering, and the answer files.

Two question sets share one format (FastChat's `question.jsonl`: `{"question_id", "category",
"turns": [str, ...], "reference": [str, ...]}`, reference optional):

- `mt_bench`: the 80 MT-Bench questions (`python -m mos mt-bench-data` writes them, with
  GPT-4's reference answers for math, reasoning and coding, as MT-Bench grades those);
- `testbed_chat`: the testbed's two-turn prompts (`eval/chat.jsonl`: `{"id", "category",
  "turns", "references"}`), read into the same form.

`answer_questions` plays each conversation as MT-Bench does: turn 1 is answered from the first
question alone; turn 2 sees the first question, the model's own turn-1 answer and the second
question. All conversations advance one turn at a time, each turn in one batched generation — or,
for a benchmark that samples each category at its own temperature (MT-Bench, as FastChat's
`gen_model_answer.py` does), one batched generation per temperature, seeded from the run's
generation seed, the turn and the temperature (`sampling_seed`), so the answers are reproducible; each
answer records the temperature it was sampled at and its seeds. Answers are written in FastChat's llm_judge layout, one JSON line per question:
`{"question_id", "answer_id", "model_id", "choices": [{"index": 0, "turns": [a1, a2]}], "tstamp",
"generation": {...}}` (`answer_id` is a content hash, so identical answers get identical ids), and
`"engine": {...}` when the generator reports one (vLLM: its version and batch-invariant mode).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.common.io import atomic_write_text
from mos.data.records import DataError, read_jsonl


@dataclass(frozen=True)
class Question:
    question_id: str
    category: str
    turns: tuple[str, ...]
    references: tuple[str, ...] | None = None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def load_questions(path: str | Path) -> list[Question]:
    """Questions of either format, every line checked (errors name the file and line)."""
    path = Path(path)
    out: list[Question] = []
    for lineno, obj in read_jsonl(path):
        where = f"{path}:{lineno}"
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object")
        qid = obj.get("question_id", obj.get("id"))
        if qid is None:
            raise DataError(f"{where}: missing key question_id (or id)")
        if not _strings(obj.get("turns")):
            raise DataError(f"{where}: 'turns' must be a non-empty list of strings")
        refs = obj.get("reference", obj.get("references"))
        if refs is not None and not (_strings(refs) or refs == []):
            raise DataError(f"{where}: 'reference' must be a list of strings")
        out.append(Question(str(qid), str(obj.get("category", "general")), tuple(obj["turns"]),
                            tuple(refs) if refs else None))
    if not out:
        raise DataError(f"{path}: no questions")
    ids = [q.question_id for q in out]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: question ids are not unique")
    return out


def answer_id(model_id: str, question_id: str, turns: Sequence[str]) -> str:
    text = json.dumps([model_id, question_id, list(turns)], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:22]


def sampling_seed(seed: int, turn: int, temperature: float) -> int:
    """The generator seed of one turn's generation at one temperature (stable across runs and machines)."""
    digest = hashlib.sha256(f"{int(seed)}:{int(turn)}:{float(temperature)!r}".encode()).hexdigest()
    return int(digest[:8], 16)


def answer_questions(generator: Any, questions: Sequence[Question], model_id: str,
                     generation: Mapping[str, Any] | None = None,
                     temperatures: Mapping[str, float] | None = None,
                     default_temperature: float = 0.7) -> list[dict[str, Any]]:
    """Every question answered turn by turn (each turn batched over all questions). With
    `temperatures` (category -> sampling temperature; other categories `default_temperature`), each
    turn is batched per temperature and sampled at it (0: greedy), seeded by `sampling_seed`."""
    histories: list[list[dict[str, str]]] = [[] for _ in questions]
    answers: list[list[str]] = [[] for _ in questions]
    temps = [None if temperatures is None else float(temperatures.get(q.category, default_temperature))
             for q in questions]
    seeds: list[list[int]] = [[] for _ in questions]
    base_seed = int((generation or {}).get("seed", 0))
    n_turns = max(len(q.turns) for q in questions)
    for t in range(n_turns):
        active = [i for i, q in enumerate(questions) if t < len(q.turns)]
        for i in active:
            histories[i].append({"role": "user", "content": questions[i].turns[t]})
        groups: dict[float | None, list[int]] = {}
        for i in active:
            groups.setdefault(temps[i], []).append(i)
        for temperature, members in sorted(groups.items(), key=lambda kv: -1.0 if kv[0] is None else kv[0]):
            convs = [histories[i] for i in members]
            if temperature is None:
                replies = generator.chat(convs)
            else:
                seed = sampling_seed(base_seed, t + 1, temperature)
                replies = generator.chat(convs, temperature=temperature, seed=seed)
                for i in members:
                    seeds[i].append(seed)
            for i, reply in zip(members, replies, strict=True):
                histories[i].append({"role": "assistant", "content": reply.text})
                answers[i].append(reply.text)
    now = time.time()
    engine = getattr(generator, "engine", None)
    records = []
    for q, a, temp, used in zip(questions, answers, temps, seeds, strict=True):
        settings = dict(generation or {})
        if temp is not None:  # sampled per category: the temperature and seeds this answer was made with
            settings.update(temperature=temp, **({"sampling_seeds": used} if temp > 0 else {}))
        records.append({"question_id": q.question_id, "answer_id": answer_id(model_id, q.question_id, a),
                        "model_id": model_id, "choices": [{"index": 0, "turns": a}], "tstamp": now,
                        "generation": settings, **({"engine": dict(engine)} if engine else {})})
    return records


def write_answers(path: str | Path, records: Sequence[Mapping[str, Any]]) -> Path:
    path = Path(path)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def read_answers(path: str | Path) -> dict[str, list[str]]:
    """question_id -> the answer turns, from a FastChat-layout answer file."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    for lineno, obj in read_jsonl(path):
        try:
            out[str(obj["question_id"])] = list(obj["choices"][0]["turns"])
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{path}:{lineno}: expected question_id and choices[0].turns") from None
    return out


def answers_path(eval_dir: str | Path, benchmark: str, model_id: str) -> Path:
    """Where a run's answers live: <eval>/<benchmark>/model_answer/<model_id>.jsonl (FastChat layout)."""
    return Path(eval_dir) / benchmark / "model_answer" / f"{model_id}.jsonl"
