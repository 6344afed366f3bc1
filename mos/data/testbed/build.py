"""Build the whole skills testbed into a folder: training datasets, evaluation sets, corpus.

    python -m mos testbed --seed 0 --scale 0.1 --out resources/default/testbed

Layout (see docs/interfaces.md): train/<Skill>.jsonl, eval/mc.jsonl, eval/chat.jsonl,
eval/math.jsonl, corpus.jsonl, dialogues.jsonl, manifest.json. The same seed and scale give
byte-identical files. Before writing, every evaluation prompt is checked against every training
prompt and against the pretraining corpus (documents and dialogues): an overlap is an error, and
the manifest records the check.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mos.common.io import atomic_dir, write_json
from mos.data.records import validate_record, write_jsonl
from mos.data.testbed import chat, corpus, general, mathematics, medicine, nlp
from mos.data.testbed.common import SKILLS, skill_sizes
from mos.data.testbed.world import make_world

VERSION = 2  # bump when the generated data changes for a given seed


@dataclass
class TestbedConfig:
    """Generator settings; the CLI exposes seed, scale and the evaluation sets' sizes, the rest are fixed
    testbed design."""

    __test__ = False  # not a pytest test class

    seed: int = 0
    scale: float = 0.1
    n_diseases: int = 24
    math: mathematics.MathRanges = field(default_factory=mathematics.MathRanges)
    mc_math: int = 300
    mc_general: int = 300
    mc_nlp_per_task: int = 40
    chat_per_category: int = 10
    word_problems: int = 200
    corpus_docs: int = 20_000       # plain pretraining documents
    corpus_dialogues: int = 20_000  # pretraining conversations (chat format), sampled beside the documents


def _rng(cfg: TestbedConfig, part: str) -> random.Random:
    return random.Random(f"testbed-v{VERSION}-{cfg.seed}-{part}")


def user_texts(messages: list[dict[str, str]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def prompt_keys(messages: list[dict[str, str]]) -> list[str]:
    """The user side of every conversation prefix ("q1", "q1\nq2", ...): two prompts are the
    same when a model would see the same questions in the same order."""
    texts = user_texts(messages)
    return ["\n".join(texts[: k + 1]) for k in range(len(texts))]


def generate(cfg: TestbedConfig) -> dict[str, Any]:
    """All testbed data in memory: {'train': {skill: records}, 'mc', 'chat', 'math', 'corpus'}."""
    world = make_world(cfg.seed, n_diseases=cfg.n_diseases)
    sizes = skill_sizes(cfg.scale)
    train = {
        "Mathematics": mathematics.train_records(_rng(cfg, "math"), sizes["Mathematics"], cfg.math),
        "Medicine": medicine.train_records(_rng(cfg, "med"), sizes["Medicine"], world),
        "General": general.train_records(_rng(cfg, "gen"), sizes["General"]),
        "NLP": nlp.train_records(_rng(cfg, "nlp"), sizes["NLP"], world),
    }
    seen = {t for recs in train.values() for r in recs for t in user_texts(r["conversations"])}
    train_prompts = {k for recs in train.values() for r in recs for k in prompt_keys(r["conversations"])}
    rng = _rng(cfg, "eval")
    mc = (mathematics.mc_items(rng, cfg.mc_math, seen, cfg.math) + medicine.mc_items(rng, world, seen)
          + general.mc_items(rng, cfg.mc_general, seen) + nlp.mc_items(rng, cfg.mc_nlp_per_task, world, seen))
    chats = chat.prompts(rng, world, cfg.chat_per_category, seen)
    math_eval = mathematics.word_problems(rng, cfg.word_problems, seen, cfg.math)
    docs = corpus.documents(_rng(cfg, "corpus"), world, cfg.corpus_docs)
    dialogues = corpus.dialogues(_rng(cfg, "dialogues"), world, cfg.corpus_dialogues)
    eval_prompts = (["\n".join(user_texts(item["messages"])) for item in mc]
                    + [c["turns"][0] for c in chats] + [m["question"] for m in math_eval])
    overlap = sorted(set(eval_prompts) & train_prompts)
    if overlap:
        raise AssertionError(f"{len(overlap)} evaluation prompts appear in training data, e.g. {overlap[0]!r}")
    in_corpus = corpus_overlap(eval_prompts, docs, dialogues)
    if in_corpus:
        raise AssertionError(f"{len(in_corpus)} evaluation prompts appear in the pretraining corpus, e.g. {in_corpus[0]!r}")
    return {"world": world, "train": train, "mc": mc, "chat": chats, "math": math_eval, "corpus": docs,
            "dialogues": dialogues,
            "overlap_check": {"train_prompts": len(train_prompts), "eval_prompts": len(eval_prompts),
                              "overlapping": len(overlap), "overlapping_corpus": len(in_corpus)}}


def corpus_overlap(eval_prompts: list[str], docs: list[dict[str, str]], dialogues: list[dict[str, Any]]) -> list[str]:
    """The evaluation prompts found in the pretraining corpus: as a dialogue's prompt (the same
    user turns in the same order, as for the training data) or inside a document's text."""
    text = "\n".join(d["text"] for d in docs)
    keys = {k for r in dialogues for k in prompt_keys(r["conversations"])}
    return sorted({p for p in eval_prompts if p in keys or p in text})


def manifest(cfg: TestbedConfig, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "config": asdict(cfg),
        "train_sizes": {k: len(v) for k, v in data["train"].items()},
        "train_sources": {k: dict(sorted(Counter(r["source"] for r in v).items())) for k, v in data["train"].items()},
        "mc_items": dict(sorted(Counter(i["subject"] for i in data["mc"]).items())),
        "chat_prompts": dict(Counter(c["category"] for c in data["chat"])),
        "math_problems": dict(Counter(m["level"] for m in data["math"])),
        "corpus_documents": len(data["corpus"]),
        "corpus_dialogues": dict(sorted(Counter(r["source"] for r in data["dialogues"]).items())),
        "overlap_check": data["overlap_check"],
    }


def build(cfg: TestbedConfig, out: str | Path) -> dict[str, Any]:
    data = generate(cfg)
    for r in [*(r for skill in SKILLS for r in data["train"][skill]), *data["dialogues"]]:
        validate_record(r)
    with atomic_dir(out) as tmp:
        for skill in SKILLS:
            write_jsonl(tmp / "train" / f"{skill}.jsonl", data["train"][skill])
        write_jsonl(tmp / "eval" / "mc.jsonl", data["mc"])
        write_jsonl(tmp / "eval" / "chat.jsonl", data["chat"])
        write_jsonl(tmp / "eval" / "math.jsonl", data["math"])
        write_jsonl(tmp / "corpus.jsonl", data["corpus"])
        write_jsonl(tmp / "dialogues.jsonl", data["dialogues"])
        info = manifest(cfg, data)
        write_json(tmp / "manifest.json", info)
    return info
