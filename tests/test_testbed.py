"""The generated skills testbed (mos.data.testbed): sizes, determinism, held-out evaluation, answers.

    .venv/bin/python -m pytest tests/test_testbed.py
"""

from __future__ import annotations

import filecmp
import json

import pytest

from mos.data.records import load_records
from mos.data.testbed import medicine
from mos.data.testbed.build import TestbedConfig, build, generate
from mos.data.testbed.common import skill_sizes
from mos.data.testbed.world import make_world
from mos.mixing.strategy import temperature_weights

SMALL = dict(scale=0.01, corpus_docs=300, mc_math=30, mc_general=30, mc_nlp_per_task=5, chat_per_category=3,
             word_problems=10)


def test_sizes_follow_paper_table1_and_give_its_priors():
    sizes = skill_sizes(0.1)
    assert sizes == {"Mathematics": 2620, "Medicine": 520, "General": 930, "NLP": 6260}
    expected = {1: [0.254, 0.050, 0.090, 0.606], 10: [0.260, 0.221, 0.235, 0.284], float("inf"): [0.25] * 4}
    for tau, probs in expected.items():
        got = list(temperature_weights(sizes, tau).values())
        assert got == pytest.approx(probs, abs=6e-4), tau


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build(TestbedConfig(seed=3, **SMALL), a)
    build(TestbedConfig(seed=3, **SMALL), b)
    build(TestbedConfig(seed=4, **SMALL), c)
    for rel in ["train/Mathematics.jsonl", "train/NLP.jsonl", "eval/mc.jsonl", "corpus.jsonl", "manifest.json"]:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    assert not filecmp.cmp(a / "train/Medicine.jsonl", c / "train/Medicine.jsonl", shallow=False)
    assert make_world(3).diseases != make_world(4).diseases


def test_layout_records_and_overlap_check(testbed_dir):
    manifest = json.loads((testbed_dir / "manifest.json").read_text())
    assert manifest["overlap_check"]["overlapping"] == 0
    for skill, n in manifest["train_sizes"].items():
        assert len(load_records(testbed_dir / "train" / f"{skill}.jsonl")) == n
    train_prompts = {m["content"] for f in (testbed_dir / "train").glob("*.jsonl")
                     for r in load_records(f) for m in r["conversations"] if m["role"] == "user"}
    for line in (testbed_dir / "eval" / "mc.jsonl").read_text().splitlines():
        item = json.loads(line)
        assert item["messages"][0]["content"] not in train_prompts
        assert item["messages"][-1]["role"] == "user"
        assert len(set(item["choices"])) == len(item["choices"]) >= 2
        assert 0 <= item["answer"] < len(item["choices"])
        assert item["group"] == {"Mathematics": "Mathematics", "Medicine": "Medicine"}.get(item["skill"], "Others")


def test_mc_answers_are_right():
    data = generate(TestbedConfig(seed=0, **SMALL))
    world = data["world"]
    for item in data["mc"]:
        correct = item["choices"][item["answer"]]
        if item["skill"] == "Mathematics":  # "a op b = c."
            lhs, rhs = correct.rstrip(".").split(" = ")
            assert eval(lhs.replace(" ", "")) == int(rhs)  # noqa: S307 (digits and + - * only)
        elif item["skill"] == "Medicine":
            disease = next(d for d in world.diseases if d.name in item["messages"][0]["content"])
            attr = item["subject"].removeprefix("medicine_")
            assert correct == medicine.answer(attr, disease.name, getattr(disease, attr))
        elif item["subject"] == "nlp_capital":
            country = next(c for c in world.countries if c in item["messages"][0]["content"])
            assert correct == world.countries[country]


def test_medicine_eval_uses_the_held_out_phrasing_only():
    data = generate(TestbedConfig(seed=0, **SMALL, ))
    world = data["world"]
    for rec in data["train"]["Medicine"]:
        q = rec["conversations"][0]["content"]
        attr = rec["source"].split("/")[1]
        i = next(k for k, d in enumerate(world.diseases) if d.name in q)
        held = medicine.QUESTIONS[attr][medicine.held_out_phrasing(i, attr)].format(d=world.diseases[i].name)
        assert q != held


def test_chat_and_math_eval_sets(testbed_dir):
    chats = [json.loads(x) for x in (testbed_dir / "eval" / "chat.jsonl").read_text().splitlines()]
    assert len({c["category"] for c in chats}) == 8
    assert all(len(c["turns"]) == 2 and len(c["references"]) == 2 for c in chats)
    problems = [json.loads(x) for x in (testbed_dir / "eval" / "math.jsonl").read_text().splitlines()]
    assert {p["level"] for p in problems} == {"one_step", "two_step"}
    assert all(p["solution"].rstrip(".").endswith(p["answer"]) for p in problems)


def test_generation_does_not_depend_on_the_process_hash_seed(tmp_path):
    """Two processes with different PYTHONHASHSEED (set iteration order) give identical files."""
    import os
    import subprocess
    import sys

    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"tb{hash_seed}"
        subprocess.run([sys.executable, "-m", "mos", "testbed", "--seed", "0", "--scale", "0.01", "--out", str(out)],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        outs.append(out)
    for rel in ["train/NLP.jsonl", "train/Medicine.jsonl", "eval/mc.jsonl", "eval/chat.jsonl", "eval/math.jsonl",
                "corpus.jsonl"]:
        assert filecmp.cmp(outs[0] / rel, outs[1] / rel, shallow=False), rel


def test_config_defaults_of_the_evaluation_sets_are_the_generators():
    from mos.pipeline.config import schema

    sizes = schema()["properties"]["testbed"]["properties"]["eval"]["properties"]
    assert {k: v["default"] for k, v in sizes.items()} == {k: getattr(TestbedConfig, k) for k in sizes}
