"""Tests of the testbed_math benchmark (greedy generation, last-integer exact match) of mos.evaluation.evaluate.

A tiny Llama (tokenizer trained here) is overfit on four word problems with their worked answers
and evaluated through `python -m mos evaluate`'s `main`: the trained problems must be solved, the
answer extraction must take the reply's final number, and metrics.csv gets one overall row and one
row per level.

    .venv/bin/python -m pytest tests/test_eval_math.py     # ~10 s
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from mos.evaluation.benchmarks.testbed_math import render_testbed_math  # noqa: E402
from mos.evaluation.benchmarks.testbed_math import testbed_math_task as math_task  # noqa: E402 - not collected as a test
from mos.evaluation.evaluate import main  # noqa: E402

torch.set_num_threads(1)

PROBLEMS = [  # the model is overfit on the first four (question -> solution)
    {"id": "math-0000", "level": "one_step", "answer": "7", "solution": "9 - 2 = 7.",
     "question": "Sam had 9 pencils and gave 2 of them to David. How many pencils does Sam have left?"},
    {"id": "math-0001", "level": "two_step", "answer": "9", "solution": "5 + 7 = 12. 12 - 3 = 9. The answer is 9.",
     "question": "Ana has 5 cups. Yuri gives Ana 7 more cups, then Ana gives 3 cups to a friend. "
                 "How many cups does Ana have now?"},
    {"id": "math-0002", "level": "one_step", "answer": "15", "solution": "3 * 5 = 15.",
     "question": "Ben has 3 bags with 5 stamps in each bag. How many stamps does Ben have?"},
    {"id": "math-0003", "level": "two_step", "answer": "4", "solution": "4 + 1 = 5. 5 - 1 = 4. The answer is 4.",
     "question": "Jack has 4 cups. Mia gives Jack 1 more cups, then Jack gives 1 cups to a friend. "
                 "How many cups does Jack have now?"},
]
UNSEEN = {"id": "math-0004", "level": "two_step", "answer": "38", "solution": "20 + 30 = 50. 50 - 12 = 38. The answer is 38.",
          "question": "Lea has 20 shells. Tom gives Lea 30 more shells, then Lea gives 12 shells to a friend. "
                      "How many shells does Lea have now?"}
SPEC = {"family": "llama", "hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128}


def _texts(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = [p["question"] + " " + p["solution"] for p in [*PROBLEMS, UNSEEN]]
    for _ in range(n):
        a, b = rng.randint(1, 30), rng.randint(1, 30)
        out.append(f"{a} + {b} = {a + b}. The answer is {a + b}. Sam gives {a} cups to a friend.")
    return out


def _overfit(model: torch.nn.Module, tokenizer, steps: int = 150) -> None:
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p["question"]},
                                            {"role": "assistant", "content": p["solution"]}], tokenize=False)
             for p in PROBLEMS]
    batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        model(**batch, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


@pytest.fixture(scope="module")
def math_model(tmp_path_factory) -> Path:
    from mos.data.tokenizer import train_tokenizer
    from mos.models.backbones import build_tiny

    tok = train_tokenizer(iter(_texts()), vocab_size=400)
    model = build_tiny(SPEC, tok, seed=0)
    _overfit(model, tok)
    path = tmp_path_factory.mktemp("math_model")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def math_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("math_data") / "math.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in [*PROBLEMS, UNSEEN]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def math_eval(math_model, math_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("math_eval")
    spec = {"model": str(math_model), "benchmarks": {"testbed_math": str(math_file)}, "batch_size": 4}
    assert main(["--spec", json.dumps(spec), "--out", str(out), "--threads", "1"]) == 0
    return out


def _samples(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "lm_eval" / "samples_testbed_math.jsonl").open(encoding="utf-8")]


def _extract(text: str) -> str:
    """The task's own lm-eval filter pipeline applied to one generation."""
    import lm_eval.filters  # noqa: F401 - registers lm-eval's filters
    from lm_eval.api.registry import get_filter

    resps = [[text]]
    for step in math_task("unused.jsonl", ["<|eos|>"])["filter_list"][0]["filter"]:
        kwargs = {k: v for k, v in step.items() if k != "function"}
        resps = list(get_filter(step["function"])(**kwargs).apply(resps, [{}]))
    return resps[0]


def test_extraction_takes_the_final_integer():
    assert _extract("5 + 7 = 12. 12 - 3 = 9. The answer is 9.") == "9"
    assert _extract("9 - 2 = 7.") == "7"
    assert _extract("It is -4, not 3 - 7") == "7"
    assert _extract("The answer is -4.") == "-4"
    assert _extract("no number here") == "[invalid]"


def test_trained_problems_are_solved(math_eval):
    samples = {s["doc"]["id"]: s for s in _samples(math_eval)}
    for p in PROBLEMS:
        s = samples[p["id"]]
        assert s["resps"][0][0].strip() == p["solution"], s["resps"]   # the raw generation is kept
        assert s["filtered_resps"] == [p["answer"]] and s["exact_match"] == 1.0
    assert samples[UNSEEN["id"]]["arguments"][0][1]["until"] == ["<|eos|>"]


def test_metrics_rows_per_level(math_eval):
    with open(math_eval / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = {(r["scope"], r["name"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("overall", "all"), ("subject", "one_step"), ("subject", "two_step")}
    assert {r["benchmark"] for r in rows.values()} == {"testbed_math"}
    assert {r["metric"] for r in rows.values()} == {"exact_match"}
    assert rows[("subject", "one_step")]["n_items"] == "2" and rows[("subject", "two_step")]["n_items"] == "3"
    assert float(rows[("subject", "one_step")]["value"]) == 1.0
    two = float(rows[("subject", "two_step")]["value"])
    assert two >= 2 / 3
    assert float(rows[("overall", "all")]["value"]) == pytest.approx((1.0 + two) / 2)  # unweighted over levels
    assert rows[("overall", "all")]["n_items"] == "5"


def test_fewshot_prompts_hold_other_solved_problems(math_model):
    from mos.data.tokenizer import load_tokenizer

    tok = load_tokenizer(str(math_model))
    items = [*PROBLEMS, UNSEEN]
    zero = render_testbed_math(items, tok)
    assert zero[0]["prompt"] == tok.apply_chat_template([{"role": "user", "content": items[0]["question"]}],
                                                        tokenize=False, add_generation_prompt=True)
    two = render_testbed_math(items, tok, num_fewshot=2)
    last = two[-1]["prompt"]  # shots wrap around to the first problems, never the item itself
    assert items[0]["solution"] in last and items[1]["solution"] in last and UNSEEN["solution"] not in last
    assert last.endswith(zero[-1]["prompt"].removeprefix(tok.bos_token))
    with pytest.raises(ValueError, match="num_fewshot"):
        render_testbed_math(items, tok, num_fewshot=5)


def test_fewshot_spec_key(math_model, math_file, tmp_path):
    out = tmp_path / "fs"
    spec = {"model": str(math_model), "benchmarks": {"testbed_math": str(math_file)}, "batch_size": 8,
            "testbed_math_fewshot": 1, "testbed_math_max_gen_toks": 4}
    assert main(["--spec", json.dumps(spec), "--out", str(out), "--threads", "1"]) == 0
    samples = _samples(out)
    assert all(s["arguments"][0][1]["max_gen_toks"] == 4 for s in samples)
    assert PROBLEMS[1]["solution"] in samples[0]["doc"]["prompt"]
    bad = {**spec, "testbed_math_fewshot": 9}
    assert main(["--spec", json.dumps(bad), "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
