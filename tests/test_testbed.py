"""The generated skills testbed (mos.data.testbed): sizes, determinism, held-out evaluation, answers.

    .venv/bin/python -m pytest tests/test_testbed.py
"""

from __future__ import annotations

import filecmp
import json
import random
import re

import pytest

from mos.data.records import load_records, validate_record
from mos.data.testbed import build as build_module
from mos.data.testbed import corpus, general, medicine, nlp
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
    for rel in ["train/Mathematics.jsonl", "train/NLP.jsonl", "eval/mc.jsonl", "corpus.jsonl", "dialogues.jsonl",
                "manifest.json"]:
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
        if attr not in medicine.ATTRIBUTES:  # a dosage problem, not a fact question
            continue
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
    for rel in ["train/NLP.jsonl", "train/Medicine.jsonl", "train/General.jsonl", "eval/mc.jsonl", "eval/chat.jsonl",
                "eval/math.jsonl", "corpus.jsonl", "dialogues.jsonl"]:
        assert filecmp.cmp(outs[0] / rel, outs[1] / rel, shallow=False), rel


def test_config_defaults_of_the_evaluation_sets_are_the_generators():
    from mos.pipeline.config import schema

    sizes = schema()["properties"]["testbed"]["properties"]["eval"]["properties"]
    assert {k: v["default"] for k, v in sizes.items()} == {k: getattr(TestbedConfig, k) for k in sizes}


# ---------------------------------------------------------------- the pretraining corpus and designed transfer

EQUATION = re.compile(r"(\d+) ([-+*]) (\d+) = (\d+)")
CORPUS = dict(scale=0.02, corpus_docs=3000, corpus_dialogues=3000, mc_math=30, mc_general=30, mc_nlp_per_task=5,
              chat_per_category=3, word_problems=10)


@pytest.fixture(scope="module")
def corpus_data():
    return generate(TestbedConfig(seed=0, **CORPUS))


def corpus_units(data) -> list[str]:
    """The pieces of the corpus that could state one fact: every sentence of a document and every
    whole dialogue (all its turns)."""
    sentences = [s for d in data["corpus"] for s in re.split(r"(?<=[.!?])\s+", d["text"])]
    return sentences + ["\n".join(m["content"] for m in r["conversations"]) for r in data["dialogues"]]


def test_corpus_states_no_fact_of_the_invented_world(corpus_data):
    """No sentence or dialogue names an invented disease with its symptom, drug or organ, or a
    country with its capital; no Medicine answer appears at all."""
    world = corpus_data["world"]
    units = corpus_units(corpus_data)
    text = "\n".join(units)
    leaks = []
    for d in world.diseases:
        for attr in medicine.ATTRIBUTES:
            value = getattr(d, attr)
            if medicine.answer(attr, d.name, value) in text:
                leaks.append(medicine.answer(attr, d.name, value))
            leaks += [u for u in units if d.name in u and re.search(rf"\b{re.escape(value)}\b", u)]
    for country, city in world.countries.items():
        leaks += [u for u in units if re.search(rf"\b{country}\b", u) and re.search(rf"\b{city}\b", u)]
    assert not leaks, leaks[:3]
    # the corpus does name the invented entities (the backbone knows the words, not the facts)
    assert all(d.name in text for d in world.diseases) and all(c in text for c in world.countries)


def test_corpus_arithmetic_is_identities_only(corpus_data):
    """Every equation of the corpus is x + 0, x - 0, x * 1 or x - x: none is a fact a skill uses."""
    found = [m.groups() for u in corpus_units(corpus_data) for m in EQUATION.finditer(u)]
    assert len(found) > 50
    for a, op, b, c in found:
        a, b, c = int(a), int(b), int(c)
        assert (op in "+-" and b == 0 and c == a) or (op == "*" and b == 1 and c == a) or (op == "-" and a == b
                                                                                           and c == 0), (a, op, b, c)


def test_corpus_holds_no_evaluation_prompt(corpus_data):
    assert corpus_data["overlap_check"]["overlapping_corpus"] == 0
    prompts = ["\n".join(build_module.user_texts(i["messages"])) for i in corpus_data["mc"]]
    assert build_module.corpus_overlap(prompts, corpus_data["corpus"], corpus_data["dialogues"]) == []
    # the check finds a prompt hidden inside a document or asked in a dialogue
    doc = {"id": "x", "text": "Some text. " + prompts[0] + " More text."}
    dialogue = {"conversations": [{"role": "user", "content": prompts[-1]}, {"role": "assistant", "content": "a"}]}
    assert build_module.corpus_overlap(prompts, [doc], [dialogue]) == sorted({prompts[0], prompts[-1]})


def test_dialogues_are_valid_records_of_every_kind(corpus_data):
    kinds = {r["source"] for r in corpus_data["dialogues"]}
    assert kinds == {f"corpus/{k}" for k in corpus.DIALOGUES}
    for r in corpus_data["dialogues"]:
        validate_record(r)


def equations(text: str) -> list[tuple[int, str, int, int]]:
    return [(int(a), op, int(b), int(c)) for a, op, b, c in EQUATION.findall(text)]


def is_right(a: int, op: str, b: int, c: int) -> bool:
    return {"+": a + b, "-": a - b, "*": a * b}[op] == c


def test_other_skills_carry_the_arithmetic_of_mathematics():
    """Designed transfer: General conversations, Medicine dosage problems and an NLP task hold
    arithmetic over Mathematics' operands, in its equation style (General, Medicine) or as a bare
    number (NLP), one and two steps; every result is right."""
    data = generate(TestbedConfig(seed=0, scale=0.1, corpus_docs=10, corpus_dialogues=10, mc_math=30, mc_general=30,
                                  mc_nlp_per_task=5, chat_per_category=3, word_problems=10))
    world = data["world"]
    share = {}
    for skill in ("General", "Medicine"):
        with_math = 0
        for r in data["train"][skill]:
            reply = r["conversations"][-1]["content"]
            eqs = equations(reply)
            with_math += bool(eqs)
            assert all(is_right(*e) for e in eqs), reply
            if len(eqs) == 2:  # a chain: the second step starts from the first result
                assert eqs[1][0] == eqs[0][3], reply
        share[skill] = with_math / len(data["train"][skill])
        chains = sum(len(equations(r["conversations"][-1]["content"])) == 2 for r in data["train"][skill])
        assert chains >= 10, (skill, chains)
    assert share["General"] == pytest.approx(0.75 * general.ARITHMETIC_SHARE, abs=0.06)
    assert share["Medicine"] == pytest.approx(medicine.DOSE_SHARE, abs=0.01)
    for r in data["train"]["Medicine"]:  # a dosage answer opens with the disease's treatment fact
        if r["source"].startswith("medicine/dose"):
            d = next(d for d in world.diseases if r["conversations"][0]["content"].startswith(d.name))
            assert r["conversations"][1]["content"].startswith(medicine.answer("treatment", d.name, d.treatment))
    nlp_math = [r for r in data["train"]["NLP"] if r["source"] == "nlp/arithmetic"]
    assert len(nlp_math) >= len(data["train"]["NLP"]) // len(nlp.TASKS)
    for r in nlp_math:
        numbers = [int(x) for x in re.findall(r"\d+", r["conversations"][0]["content"])]
        assert int(r["conversations"][1]["content"]) in (numbers[0] + numbers[1], numbers[0] - numbers[1])
    # the multiple choice of General and Medicine still tests their own skill only
    for item in data["mc"]:
        if item["skill"] in ("General", "Medicine"):
            assert not equations(item["choices"][item["answer"]]), item


def test_a_chat_category_that_runs_out_of_distinct_prompts_says_so():
    """Asking for more two-turn prompts than a category has distinct first turns is an error naming the
    category and the config key, not an endless loop (it was one at 25 per category before)."""
    from mos.data.testbed import chat

    world = make_world(0, n_diseases=2)  # 2 diseases x 3 facts asked first = 6 distinct medicine prompts
    assert len(chat.prompts(random.Random(0), world, 6, set())) == 6 * len(chat.CATEGORIES)
    with pytest.raises(ValueError, match="only 6 distinct 'medicine' prompts.*chat_per_category"):
        chat.prompts(random.Random(0), world, 7, set())
