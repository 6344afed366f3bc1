"""Two-turn evaluation end to end: generation (batched = one at a time), answering in FastChat's
layout, grading with each judge (reference, HTTP against `transformers serve`, local scoring),
metrics, win rates through alpaca_eval, and the API key never leaving the environment."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mos.data.records import DataError
from mos.evaluation.chat_bench import Question, answer_questions, answers_path, load_questions, read_answers
from mos.evaluation.generation import Completion, GenerationSettings, make_generator
from mos.evaluation.judge import chat_metric_rows, grade, judge_pairs, winrate, winrate_pairs
from mos.evaluation.judges.base import Graded, GradingTask, Judgment, PairTask, Preference
from mos.evaluation.judges.cache import JudgmentCache
from mos.evaluation.judges.http import HTTPJudge
from tests.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-mos-test-0123456789-NEVER-WRITE-ME"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def chat_path(testbed_dir: Path) -> Path:
    return testbed_dir / "eval" / "chat.jsonl"


# ---------------------------------------------------------------- generation and answering


def test_batched_generation_equals_one_at_a_time_and_keeps_order(tiny_model_dir, testbed_dir):
    questions = load_questions(chat_path(testbed_dir))
    convs = [[{"role": "user", "content": q.turns[0]}] for q in questions]
    batched = make_generator(str(tiny_model_dir), GenerationSettings(max_new_tokens=12, batch_size=16)).chat(convs)
    single = make_generator(str(tiny_model_dir), GenerationSettings(max_new_tokens=12, batch_size=1)).chat(convs)
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(1 <= c.n_tokens <= 12 and c.finish_reason in ("stop", "length") for c in batched)


def test_generation_settings_are_checked():
    with pytest.raises(ValueError, match="backend must be one of"):
        GenerationSettings(backend="tgi")
    with pytest.raises(ValueError, match="unknown key"):
        GenerationSettings.from_dict({"max_tokens": 3})


class Echo:
    """A generator that records what it was asked and answers with a counter (tests the turn logic)."""

    def __init__(self):
        self.seen = []

    def chat(self, conversations):
        self.seen.append([list(c) for c in conversations])
        return [Completion(f"answer {len(self.seen)}.{i}", 3, "stop") for i in range(len(conversations))]


def test_turn_two_sees_the_models_own_first_answer():
    qs = [Question("1", "x", ("first?", "second?")), Question("2", "y", ("only one?",))]
    gen = Echo()
    records = answer_questions(gen, qs, "m")
    assert [len(batch) for batch in gen.seen] == [2, 1]
    assert gen.seen[1][0] == [{"role": "user", "content": "first?"}, {"role": "assistant", "content": "answer 1.0"},
                              {"role": "user", "content": "second?"}]
    assert records[0]["choices"][0]["turns"] == ["answer 1.0", "answer 2.0"]
    assert records[1]["choices"][0]["turns"] == ["answer 1.1"]
    assert set(records[0]) >= {"question_id", "answer_id", "model_id", "choices", "tstamp"}


def test_question_files_are_checked_with_file_and_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question_id": 1, "turns": ["a"]}\n{"question_id": 2, "turns": "b"}\n')
    with pytest.raises(DataError, match=r"q.jsonl:2: 'turns' must be a non-empty list"):
        load_questions(bad)


# ---------------------------------------------------------------- metrics arithmetic


def test_chat_metrics_are_turn_means_categories_spread_and_unparseable():
    def g(turn, cat, *ratings):
        t = GradingTask("q", cat, turn, ("a", "b")[:turn], ("x", "y")[:turn])
        return Graded(t, [Judgment(r, "") for r in ratings])

    graded = [g(1, "math", 8, 6), g(2, "math", 4), g(1, "writing", 10), g(2, "writing", None, None)]
    rows = {(r["scope"], r["name"], r["metric"]): r for r in chat_metric_rows("mt_bench", graded)}
    assert rows[("turn", "turn1", "score")]["value"] == 8.5  # medians 7 and 10
    assert rows[("turn", "turn2", "score")]["value"] == 4.0  # the unparseable answer has no score
    assert rows[("overall", "all", "score")]["value"] == (8.5 + 4.0) / 2  # µMB = (Turn 1 + Turn 2) / 2
    assert rows[("category", "math", "score")]["value"] == 5.5
    assert rows[("overall", "all", "spread")]["value"] == pytest.approx(2 / 3)
    assert rows[("overall", "all", "unparseable")]["value"] == 2 / 6


# ---------------------------------------------------------------- evaluate + judge, reference judge


@pytest.fixture(scope="module")
def answered(tiny_model_dir, testbed_dir, tmp_path_factory):
    """The tiny model's answers to the testbed's two-turn prompts, through `python -m mos evaluate`."""
    from mos.evaluation.evaluate import main as evaluate_main

    out = tmp_path_factory.mktemp("eval") / "run" / "eval"
    spec = {"model": str(tiny_model_dir), "benchmarks": {"testbed_chat": str(chat_path(testbed_dir))},
            "generation": {"max_new_tokens": 12}, "model_id": "tiny__uniform__seed0"}
    assert evaluate_main(["--spec", json.dumps(spec), "--out", str(out)]) == 0
    return out


def test_evaluate_writes_fastchat_answer_files(answered, testbed_dir):
    path = answers_path(answered, "testbed_chat", "tiny__uniform__seed0")
    answers = read_answers(path)
    questions = load_questions(chat_path(testbed_dir))
    assert list(answers) == [q.question_id for q in questions]
    assert all(len(a) == 2 for a in answers.values())
    first = json.loads(path.read_text().splitlines()[0])
    assert first["generation"]["max_new_tokens"] == 12 and first["model_id"] == "tiny__uniform__seed0"
    assert (answered / "metrics.csv").read_text().strip() == "benchmark,scope,name,metric,value,n_items"


def test_reference_judge_grades_every_turn_through_the_cli(answered, testbed_dir, tmp_path):
    spec = {"judge": {"kind": "reference"}, "benchmarks": {"testbed_chat": str(chat_path(testbed_dir))},
            "runs": [{"eval_dir": str(answered), "model_id": "tiny__uniform__seed0"}]}
    combined = tmp_path / "cell.csv"
    proc = subprocess.run([sys.executable, "-m", "mos", "judge", "grade", "--spec", json.dumps(spec), "--combined",
                           str(combined)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = (read_csv(answered / "judge_metrics.csv"))
    by = {(r["scope"], r["name"], r["metric"]): float(r["value"]) for r in rows}
    assert 1.0 <= by[("overall", "all", "score")] <= 10.0
    assert by[("overall", "all", "score")] == pytest.approx((by[("turn", "turn1", "score")]
                                                              + by[("turn", "turn2", "score")]) / 2)
    lines = (answered / "testbed_chat" / "model_judgment" / "reference_single.jsonl").read_text().splitlines()
    assert len(lines) == 2 * len(load_questions(chat_path(testbed_dir)))
    assert len(list(read_csv(combined))) == len(rows)


# ---------------------------------------------------------------- win rates through alpaca_eval


def test_winrate_maps_shuffled_verdicts_back_and_uses_get_winrate(tmp_path):
    qs = [Question(str(i), "arithmetic", (f"{i} + 1?",), (f"{i} + 1 = {i + 1}.",)) for i in range(12)]
    for name, right in (("model", True), ("ref", False)):
        records = [{"question_id": q.question_id, "choices": [{"turns": [q.references[0] if right else "no"]}]}
                   for q in qs]
        path = answers_path(tmp_path / name / "eval", "testbed_chat", name)
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"question_id": q.question_id, "category": q.category, "turns": list(q.turns),
                                         "reference": list(q.references)}) + "\n" for q in qs))
    spec = {"judge": {"kind": "reference"}, "benchmark": "testbed_chat", "questions": str(qfile), "seed": 3,
            "pairs": [{"backbone": "b", "mixture": "model", "seed": 0,
                       "model": {"eval_dir": str(tmp_path / "model" / "eval"), "model_id": "model"},
                       "reference": {"eval_dir": str(tmp_path / "ref" / "eval"), "model_id": "ref",
                                     "mixture": "ref"}}]}
    rows = winrate(spec, str(tmp_path / "winrate.csv"))
    assert rows[0]["win_rate"] == 100.0 and rows[0]["n_wins"] == 12 and rows[0]["n_total"] == 12
    annotations = json.loads((tmp_path / "model" / "eval" / "testbed_chat" / "winrate_vs_ref" /
                              "annotations.json").read_text())
    assert {a["shown_swapped"] for a in annotations} == {True, False}  # both orders were shown
    assert all(a["preference"] == 2.0 for a in annotations)


def test_judge_pairs_swaps_back():
    class AlwaysFirst:
        name = "first"

        def compare(self, pairs):
            return [Preference(1.0, "[[A]]") for _ in pairs]

    pairs = [PairTask(str(i), "q", "ref", "model") for i in range(20)]
    out = judge_pairs(AlwaysFirst(), pairs, seed=0)
    assert {a["preference"] for a in out if a["shown_swapped"]} == {2.0}
    assert {a["preference"] for a in out if not a["shown_swapped"]} == {1.0}
    assert winrate_pairs([Question("0", "c", ("q",))], {"0": ["m"]}, {"0": ["r"]})[0].answer_b == "m"


# ---------------------------------------------------------------- a real OpenAI-compatible server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    """`transformers serve` with the tiny model on loopback (a real OpenAI-compatible server)."""
    pytest.importorskip("fastapi", reason="transformers serve needs fastapi/uvicorn (the test extra)")
    port = _free_port()
    exe = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen([str(exe), "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.25)
    else:
        proc.kill()
        pytest.fail("transformers serve did not come up")
    yield f"{url}/v1"
    proc.terminate()
    proc.wait(timeout=30)


def test_http_judge_against_transformers_serve_caches_and_reruns_without_calls(served, tiny_model_dir, tmp_path):
    tasks = [GradingTask(f"q{i}", "writing", 1, (f"Write {i} words.",), (f"{i} words here.",)) for i in range(3)]
    cache = tmp_path / "c.jsonl"
    judge = HTTPJudge(base_url=served, model=str(tiny_model_dir), cache=JudgmentCache(cache), max_tokens=8)
    graded = judge.grade(tasks)
    assert judge.client.calls == 3 and len(JudgmentCache(cache)) == 3
    assert all(j.rating is None or 1 <= j.rating <= 10 for js in graded for j in js)  # a tiny model rarely rates
    again = HTTPJudge(base_url=served, model=str(tiny_model_dir), cache=JudgmentCache(cache), max_tokens=8)
    assert [[j.raw for j in js] for js in again.grade(tasks)] == [[j.raw for j in js] for js in graded]
    assert again.client.calls == 0


def test_api_key_reaches_the_server_and_nothing_else(answered, testbed_dir, tmp_path):
    """The whole judge command with a key in the environment: the key is in the request header and
    in no file written (judgments, metrics, cache, judge.json) and in no output line."""
    cache = tmp_path / "cache.jsonl"
    spec = {"judge": {"kind": "http", "base_url": None, "model": "gpt-4", "api_key_env": "MOS_JUDGE_KEY",
                      "cache": str(cache), "backoff": 0.01},
            "samples": 2, "benchmarks": {"testbed_chat": str(chat_path(testbed_dir))},
            "runs": [{"eval_dir": str(answered), "model_id": "tiny__uniform__seed0"}]}
    with FaultServer(faults=["500", "drop"]) as server:
        spec["judge"]["base_url"] = server.url
        env = {**os.environ, "MOS_JUDGE_KEY": SECRET}
        proc = subprocess.run([sys.executable, "-m", "mos", "judge", "grade", "--spec", json.dumps(spec)],
                              capture_output=True, text=True, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr
        assert {r["authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
        n = len(server.requests)
        rerun = subprocess.run([sys.executable, "-m", "mos", "judge", "grade", "--spec", json.dumps(spec)],
                               capture_output=True, text=True, cwd=ROOT, env=env)
        assert rerun.returncode == 0 and len(server.requests) == n  # zero calls the second time
    assert SECRET not in proc.stdout + proc.stderr + rerun.stdout + rerun.stderr
    for path in [*answered.rglob("*"), cache]:
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    rows = {(r["scope"], r["name"], r["metric"]): float(r["value"])
            for r in read_csv(answered / "judge_metrics.csv")}
    assert rows[("overall", "all", "score")] == 7.0 and rows[("overall", "all", "unparseable")] == 0.0
    assert json.loads((answered / "judge.json").read_text())["judge"]["api_key_env"] == "MOS_JUDGE_KEY"


# ---------------------------------------------------------------- the local judge and real MT-Bench questions


def test_local_judge_scores_mt_bench_questions_deterministically(tiny_model_dir, tmp_path):
    from mos.evaluation import mt_bench_data
    from mos.evaluation.judges.local import LocalJudge

    try:
        questions, _ = mt_bench_data.from_package()
    except RuntimeError as e:  # no package index reachable
        pytest.skip(str(e))
    assert len(questions) == 80 and {q["category"] for q in questions if "reference" in q} == {
        "math", "reasoning", "coding"}
    picked = [q for q in questions if q["category"] in ("writing", "math")][::5][:4]
    tasks = [GradingTask(str(q["question_id"]), q["category"], t, tuple(q["turns"][:t]), ("An answer.", "More.")[:t],
                         tuple(q["reference"]) if "reference" in q else None) for q in picked for t in (1, 2)]
    judge = LocalJudge(str(tiny_model_dir), cache=JudgmentCache(tmp_path / "c.jsonl"))
    first = judge.grade(tasks)
    assert all(1 <= js[0].rating <= 10 and float(js[0].rating).is_integer() for js in first)
    again = LocalJudge(str(tiny_model_dir), cache=JudgmentCache(tmp_path / "c.jsonl")).grade(tasks)
    assert [js[0].rating for js in again] == [js[0].rating for js in first] and all(js[0].cached for js in again)
    prefs = judge.compare([PairTask("1", "Say hi.", "hi", "hello")])
    assert prefs[0].preference in (1.0, 1.5, 2.0)


def test_grade_needs_complete_answers(tmp_path, testbed_dir):
    path = answers_path(tmp_path, "testbed_chat", "m")
    path.parent.mkdir(parents=True)
    path.write_text('{"question_id": "chat-000", "choices": [{"turns": ["only one"]}]}\n')
    spec = {"judge": {"kind": "reference"}, "benchmarks": {"testbed_chat": str(chat_path(testbed_dir))},
            "runs": [{"eval_dir": str(tmp_path), "model_id": "m"}]}
    with pytest.raises(DataError, match="no complete answer to question chat-000"):
        grade(spec)


@pytest.mark.slow
def test_smollm2_from_the_packaged_gguf_judges_mt_bench(tmp_path):
    """The real small judge: SmolLM2-135M-Instruct converted from PyPI's GGUF, scoring two MT-Bench
    answers (a right and a wrong one to a reference-guided math question)."""
    pytest.importorskip("gguf")
    from mos.evaluation import mt_bench_data
    from mos.evaluation.judges.local import LocalJudge
    from mos.models.pretrained import convert

    try:
        model = convert("smollm2-135m-instruct", tmp_path / "smollm")
        questions, _ = mt_bench_data.from_package()
    except RuntimeError as e:
        pytest.skip(str(e))
    q = next(q for q in questions if q["category"] == "math")
    tasks = [GradingTask(str(q["question_id"]), "math", 1, (q["turns"][0],), (answer,), tuple(q["reference"]))
             for answer in (q["reference"][0], "I do not know.")]
    judge = LocalJudge(str(model), cache=JudgmentCache(tmp_path / "c.jsonl"))
    ratings = [js[0].rating for js in judge.grade(tasks)]
    assert all(1 <= r <= 10 for r in ratings)
    record = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------- the local judge pinned to its weights


def _grading_tasks():
    return [GradingTask(f"q{i}", "writing", 1, (f"Write {i} words.",), (f"{i} words here.",)) for i in range(3)]


def test_local_judge_is_pinned_to_its_weights(tiny_model_dir, tmp_path):
    """A wrong digest is an error naming both; the same weights elsewhere are cached; other weights
    (a perturbed copy) are judged afresh and need their own pin."""
    import shutil

    import torch

    from mos.evaluation.judges.local import LocalJudge
    from mos.evaluation.judges.pin import PinError, weight_hashes
    from mos.models.backbones import load_model

    (name, digest), = weight_hashes(tiny_model_dir).items()
    cache = tmp_path / "c.jsonl"
    with pytest.raises(PinError, match=f"eval.judge.sha256: .*{name} has SHA-256 {digest}, the config pins {'0' * 64}"):
        LocalJudge(str(tiny_model_dir), cache=JudgmentCache(cache), sha256="0" * 64)
    with pytest.raises(PinError, match="eval.judge.revision: .* is a local folder"):
        LocalJudge(str(tiny_model_dir), cache=JudgmentCache(cache), revision="main")
    first = LocalJudge(str(tiny_model_dir), cache=JudgmentCache(cache), sha256=digest).grade(_grading_tasks())
    assert not any(js[0].cached for js in first)
    record = json.loads(cache.read_text().splitlines()[0])
    assert record["pin"] == {"model": str(tiny_model_dir), "revision": None, "sha256": {name: digest}}

    moved = tmp_path / "moved"
    shutil.copytree(tiny_model_dir, moved)
    again = LocalJudge(str(moved), cache=JudgmentCache(cache), sha256=digest).grade(_grading_tasks())
    assert all(js[0].cached for js in again)  # the pin is the weights, not the folder

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    model = load_model(str(tiny_model_dir))
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    model.save_pretrained(other)
    (other_name, other_digest), = weight_hashes(other).items()
    assert other_digest != digest
    with pytest.raises(PinError, match=f"has SHA-256 {other_digest}, the config pins {digest}"):
        LocalJudge(str(other), cache=JudgmentCache(cache), sha256=digest)
    judge = LocalJudge(str(other), cache=JudgmentCache(cache), sha256={other_name: other_digest})
    assert not any(js[0].cached for js in judge.grade(_grading_tasks()))  # other weights: judged anew
    assert judge.public_config["pin"]["sha256"] == {other_name: other_digest}


def test_a_hub_repository_judge_is_pinned_by_its_commit(tiny_model_dir, tmp_path, monkeypatch):
    """A hub repository read from the local Hugging Face cache: the commit a branch resolves to is
    recorded, a pinned commit must be the one there, an absent one is an error saying so."""
    import shutil

    from huggingface_hub import constants

    from mos.evaluation.judges.local import LocalJudge
    from mos.evaluation.judges.pin import PinError, resolve_model

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--tiny-judge"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("org/tiny-judge").revision == commit  # main -> its commit
    pin = resolve_model("org/tiny-judge", revision=commit)
    assert pin.folder.endswith(commit) and pin.sha256 == resolve_model(str(tiny_model_dir)).sha256
    with pytest.raises(PinError, match="nor a hub repository available here at revision f{40}"):
        resolve_model("org/tiny-judge", revision="f" * 40)
    judge = LocalJudge("org/tiny-judge", cache=JudgmentCache(tmp_path / "c.jsonl"), revision=commit)
    assert judge.public_config["pin"]["revision"] == commit and judge.name == "tiny-judge"
    assert 1 <= judge.grade(_grading_tasks()[:1])[0][0].rating <= 10


def test_judge_pin_prints_the_keys_that_pin_a_model(tiny_model_dir, tmp_path):
    import yaml

    from mos.evaluation.judge import pin_yaml
    from mos.evaluation.judges import build_judge
    from mos.evaluation.judges.pin import weight_hashes

    keys = yaml.safe_load(pin_yaml(str(tiny_model_dir)))
    assert keys == {"model": str(tiny_model_dir), "sha256": next(iter(weight_hashes(tiny_model_dir).values()))}
    judge = build_judge({"kind": "local", **keys, "cache": str(tmp_path / "c.jsonl")})  # what it prints builds it
    assert judge.pin.sha256 == weight_hashes(tiny_model_dir)
