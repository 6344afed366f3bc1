"""Judges: rating parsing, the reference judge, the judgment cache, and the HTTP judge against a real
loopback server that injects timeouts, 429s, 5xx, malformed bodies and dropped connections."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from mos.evaluation.judges import build_judge
from mos.evaluation.judges.base import (
    Graded,
    GradingTask,
    JudgeError,
    PairTask,
    describe,
    grading_messages,
    load_templates,
    parse_rating,
    parse_verdict,
)
from mos.evaluation.judges.cache import JudgmentCache, content_key
from mos.evaluation.judges.http import REASONING_MAX_TOKENS, HTTPJudge, is_reasoning_model
from mos.evaluation.judges.pin import PinError, check_sha256
from mos.evaluation.judges.reference import ReferenceJudge, char_dice, reference_rating, token_f1
from tests.fault_server import FaultServer

Q = ("Zoe picked 15 cookies and lost 9. How many are left?", "Now double that number.")
REF = ("15 - 9 = 6.", "6 * 2 = 12.")


def task(turn: int, answers=("15 - 9 = 6.", "6 * 2 = 12."), references=REF, qid="q1", category="arithmetic"):
    return GradingTask(qid, category, turn, Q[:turn], tuple(answers[:turn]), references)


# ---------------------------------------------------------------- parsing and templates


@pytest.mark.parametrize(("text", "rating"), [
    ("Good. [[8]]", 8.0), ("[[ 7.5 ]] then [[2]]", 7.5), ("Rating: [9]", 9.0), ("rating: 3", 3.0),
    ("[[11]]", None), ("[[0]]", None), ("no score here", None), ("", None),
])
def test_parse_rating(text, rating):
    assert parse_rating(text) == rating


@pytest.mark.parametrize(("text", "pref"), [("[[A]]", 1.0), ("so [[B]]", 2.0), ("[[C]]", 1.5), ("[A]", None)])
def test_parse_verdict(text, pref):
    assert parse_verdict(text) == pref


def test_templates_choose_reference_and_multi_turn_prompts():
    templates = load_templates()
    t1, m1 = grading_messages(templates, task(1))
    t2, m2 = grading_messages(templates, task(2))
    t3, _ = grading_messages(templates, task(1, references=None))
    assert t1.name.endswith("single_reference") and t2.name.endswith("single_reference_multi_turn")
    assert t3.name.endswith("/single")
    assert m1[0]["role"] == "system" and "15 - 9 = 6." in m1[-1]["content"]
    user = m2[-1]["content"]  # turn 2 shows the whole conversation and both references
    assert Q[0] in user and Q[1] in user and "6 * 2 = 12." in user and "[[score]]" in user


def test_fastchat_prompt_file_is_read_with_its_placeholders(tmp_path):
    names = {"single-v1": "{question} {answer}", "single-math-v1": "{question} {ref_answer_1} {answer}",
             "single-v1-multi-turn": "{question_1} {answer_1} {question_2} {answer_2}",
             "single-math-v1-multi-turn": "{question_1} {ref_answer_1} {ref_answer_2} {answer_2}",
             "pair-v2": "{question} {answer_a} {answer_b}", "pair-math-v1": "{question} {ref_answer_1}"}
    path = tmp_path / "judge_prompts.jsonl"
    path.write_text("".join(json.dumps({"name": n, "system_prompt": "sys", "prompt_template": t}) + "\n"
                            for n, t in names.items()))
    templates = load_templates(path)
    _, messages = grading_messages(templates, task(2))
    assert messages[1]["content"] == f"{Q[0]} {REF[0]} {REF[1]} 6 * 2 = 12."


def test_bad_template_files_are_named(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("single: {user: hi}\n")
    with pytest.raises(ValueError, match="t.yaml: missing template"):
        load_templates(bad)


# ---------------------------------------------------------------- reference judge


@pytest.mark.parametrize("scoring", ["graded", "f1"])
def test_reference_rating_rewards_the_right_result(scoring):
    assert reference_rating("15 - 9 = 6", "15 - 9 = 6.", scoring) == 10.0
    right = reference_rating("The answer is 6.", "15 - 9 = 6.", scoring)
    wrong = reference_rating("15 - 9 = 7.", "15 - 9 = 6.", scoring)
    assert 1.0 <= wrong < right < 10.0
    assert reference_rating("", "15 - 9 = 6.", scoring) == 1.0
    assert token_f1("red blue", "blue red") == 1.0


def test_graded_scoring_by_hand():
    """s = 0.6 R + 0.2 N + 0.1 F + 0.1 C with a result, 0.6 F + 0.4 C without; rating = 1 + 9 s."""
    # "7" against "15 - 9 = 6.": wrong (R = 0), N = 1/(1 + 1/6); "7" shares no token (F = 0)
    n = 1 / (1 + 1 / 6)
    c = char_dice("7", "15 - 9 = 6.")
    assert token_f1("7", "15 - 9 = 6.") == 0.0
    assert reference_rating("7", "15 - 9 = 6.") == pytest.approx(round(1 + 9 * (0.2 * n + 0.1 * c), 4))
    # "6": right (R = N = 1)
    c6 = char_dice("6", "15 - 9 = 6.")
    f6 = token_f1("6", "15 - 9 = 6.")
    assert reference_rating("6", "15 - 9 = 6.") == pytest.approx(round(1 + 9 * (0.6 + 0.2 + 0.1 * f6 + 0.1 * c6), 4))
    # no result: a misspelt word earns character credit only
    c = char_dice("Pariss", "Paris")
    assert c == pytest.approx(2 * 4 / (6 + 5))  # " pariss " has 6 trigrams, " paris " 5; 4 shared (" pa", "par", "ari", "ris")
    assert reference_rating("Pariss", "Paris") == pytest.approx(round(1 + 9 * 0.4 * c, 4))


def test_graded_scoring_tells_near_misses_from_nonsense():
    ref = "12 + 30 = 42."
    ratings = [reference_rating(r, ref) for r in ("12 + 30 = 42", "12 + 30 = 41.", "12 + 30 = 60.", "12 + 30 = 420.",
                                                  "blue", "")]
    assert ratings[0] == 10.0 and ratings == sorted(ratings, reverse=True) and ratings[-1] == 1.0
    assert len(set(ratings[:5])) == 5 and ratings[4] == 1.0  # graded near misses; nonsense still rates 1
    old = [reference_rating(r, ref, "f1") for r in ("12 + 30 = 41.", "12 + 30 = 60.")]
    assert old[0] == old[1]  # the f1 scoring cannot tell an off-by-one from a far miss
    assert reference_rating("Lyon", "Paris") < reference_rating("Parris", "Paris") < 10.0
    with pytest.raises(ValueError, match="eval.judge.scoring"):
        reference_rating("x", "y", "exact")


def test_reference_judge_grades_each_turn_and_compares_pairs():
    judge = ReferenceJudge()
    good, bad = judge.grade([task(2), task(2, answers=("15 - 9 = 6.", "I do not know."))])
    assert good[0].rating == 10.0 and bad[0].rating < 3
    prefs = judge.compare([PairTask("q", Q[0], "no idea", "15 - 9 = 6.", REF[0]),
                           PairTask("q", Q[0], "15 - 9 = 6.", "15 - 9 = 6.", REF[0])])
    assert [p.preference for p in prefs] == [2.0, 1.5]
    with pytest.raises(JudgeError, match="needs reference answers"):
        judge.grade([task(1, references=None)])


def test_graded_median_spread_and_unparseable():
    from mos.evaluation.judges.base import Judgment

    g = Graded(task(1), [Judgment(7.0, ""), Judgment(None, "?"), Judgment(9.0, ""), Judgment(4.0, "")])
    assert g.score == 7.0 and g.spread == 5.0 and g.unparseable == 1


# ---------------------------------------------------------------- the cache


def test_cache_round_trip_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = JudgmentCache(path)
    k1, k2 = content_key({"a": 1}), content_key({"a": 2})
    cache.put(k1, {"raw": "[[5]]"})
    assert content_key({"a": 1}) == k1 != k2
    with open(path, "a") as f:
        f.write('{"key": "torn", "raw": "[[')  # a crash in the middle of a write
    again = JudgmentCache(path)
    assert again.get(k1)["raw"] == "[[5]]" and again.get("torn") is None
    again.put(k2, {"raw": "[[6]]"})  # the torn line is closed before the next record
    third = JudgmentCache(path)
    assert third.get(k2)["raw"] == "[[6]]" and third.torn_lines == 1 and len(third) == 2


def _append_many(path: str, start: int) -> None:
    cache = JudgmentCache(path)
    for i in range(start, start + 100):
        cache.put(content_key({"i": i % 150}), {"raw": str(i)})


def test_two_processes_appending_lose_and_duplicate_nothing(tmp_path):
    path = str(tmp_path / "c.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, s)) for s in (0, 50)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = [json.loads(x) for x in Path(path).read_text().splitlines()]
    keys = [x["key"] for x in lines]
    assert len(keys) == len(set(keys)) == 150  # keys 0..149 once each, none lost, none twice


# ---------------------------------------------------------------- the HTTP judge, fault injection


def http_judge(server, tmp_path, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 0.5)
    kw.setdefault("model", "judge-model")
    return HTTPJudge(base_url=server.url, cache=JudgmentCache(tmp_path / "cache.jsonl"), **kw)


def test_every_fault_is_retried_and_no_judgment_is_lost_or_duplicated(tmp_path):
    tasks = [task(t, qid=f"q{i}", answers=(f"15 - 9 = {i}.", f"{2 * i}.")) for i in range(4) for t in (1, 2)]
    with FaultServer(faults=["timeout", "429", "500", "malformed", "drop", "503"]) as server:
        judge = http_judge(server, tmp_path, concurrency=3)
        graded = judge.grade(tasks, samples=2)
        first = len(server.requests)
        again = http_judge(server, tmp_path).grade(tasks, samples=2)  # a rerun: everything cached
        assert len(server.requests) == first
    assert [[j.rating for j in js] for js in graded] == [[7.0, 7.0]] * 8
    assert all(j.cached for js in again for j in js)
    assert first == 16 + 6  # 8 tasks x 2 samples, plus one retry per injected fault
    records = [json.loads(x) for x in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert len(records) == 16 == len({r["key"] for r in records})


def test_identical_prompts_are_judged_once(tmp_path):
    with FaultServer() as server:
        graded = http_judge(server, tmp_path).grade([task(1, qid="a"), task(1, qid="b")])
        assert len(server.requests) == 1  # same rendered prompt = same judgment, whatever the id
    assert graded[0][0].rating == graded[1][0].rating == 7.0


def test_a_judgment_that_keeps_failing_is_not_recorded_and_the_rest_are(tmp_path):
    tasks = [task(1, qid="a"), task(1, qid="b", answers=("6",))]
    with FaultServer(faults=["500"] * 3) as server:
        judge = http_judge(server, tmp_path, concurrency=1, max_retries=2)
        with pytest.raises(JudgeError, match="1 of 2 judgments failed"):
            judge.grade(tasks)
        assert len(judge.cache) == 1  # the other judgment is safe
        graded = judge.grade(tasks)  # the rerun asks only for the missing one
        assert len(server.requests) == 3 + 1 + 1
    assert [g[0].rating for g in graded] == [7.0, 7.0]


def test_client_errors_fail_at_once(tmp_path):
    with FaultServer(faults=["400"]) as server:
        with pytest.raises(JudgeError, match="HTTP 400"):
            http_judge(server, tmp_path).grade([task(1)])
        assert len(server.requests) == 1


def test_unparseable_replies_are_recorded_as_such(tmp_path):
    with FaultServer(reply=lambda m: "I would rather not say.") as server:
        graded = http_judge(server, tmp_path).grade([task(1)], samples=3)
    g = Graded(task(1), graded[0])
    assert g.score is None and g.unparseable == 3
    assert len(JudgmentCache(tmp_path / "cache.jsonl")) == 3  # recorded, so a rerun makes no call


def test_pairwise_verdicts_and_key_from_the_environment_only(tmp_path, monkeypatch):
    secret = "sk-test-THIS-MUST-NOT-LEAK-123"
    monkeypatch.setenv("MOS_TEST_JUDGE_KEY", secret)
    with FaultServer() as server:
        judge = http_judge(server, tmp_path, api_key_env="MOS_TEST_JUDGE_KEY")
        prefs = judge.compare([PairTask("q", Q[0], "a", "b")])
    assert prefs[0].preference == 2.0
    assert server.requests[0]["authorization"] == f"Bearer {secret}"
    assert secret not in json.dumps(judge.public_config) and secret not in (tmp_path / "cache.jsonl").read_text()
    monkeypatch.delenv("MOS_TEST_JUDGE_KEY")
    with pytest.raises(JudgeError, match="MOS_TEST_JUDGE_KEY"):
        http_judge(server, tmp_path, api_key_env="MOS_TEST_JUDGE_KEY").grade([task(1, qid="new")])


def test_build_judge_checks_kinds_and_keys():
    assert isinstance(build_judge({"kind": "reference"}), ReferenceJudge)
    assert build_judge({"kind": "reference", "scoring": "f1"}).scoring == "f1"
    with pytest.raises(ValueError, match="unknown judge 'gpt'"):
        build_judge({"kind": "gpt"})
    with pytest.raises(ValueError, match="api_key"):
        build_judge({"kind": "http", "base_url": "http://x", "model": "m", "api_key": "sk-..."})
    with pytest.raises(ValueError, match="eval.judge.base_url is required"):
        build_judge({"kind": "http", "model": "m"})


# ---------------------------------------------------------------- reasoning models, pins


@pytest.mark.parametrize(("model", "reasoning"), [
    ("o1", True), ("o3-mini", True), ("o4-mini-2025-04-16", True), ("gpt-5", True), ("openai/gpt-5-mini", True),
    ("gpt-4-0613", False), ("gpt-4o", False), ("gpt-4.1-mini", False), ("olmo-2-7b", False), ("Qwen/Qwen3-8B", False),
])
def test_reasoning_models_are_known_by_name(model, reasoning):
    assert is_reasoning_model(model) is reasoning


def test_reasoning_models_get_max_completion_tokens_and_no_temperature(tmp_path):
    with FaultServer() as server:
        http_judge(server, tmp_path, model="o3-mini").grade([task(1)], samples=2)
        http_judge(server, tmp_path, model="gpt-4-0613", temperature=0.5).grade([task(1)])
        http_judge(server, tmp_path, model="o3-mini", reasoning=False, max_tokens=64).grade([task(1)])
        http_judge(server, tmp_path, model="my-served-reasoner", reasoning=True).grade([task(1)])
    bodies = [r["body"] for r in server.requests]
    for body in bodies[:2] + bodies[-1:]:
        assert body["max_completion_tokens"] == REASONING_MAX_TOKENS
        assert not {"max_tokens", "temperature", "seed"} & set(body)
    assert bodies[2]["max_tokens"] == 512 and bodies[2]["temperature"] == 0.5 and bodies[2]["seed"] == 0
    assert bodies[3]["max_tokens"] == 64 and bodies[3]["temperature"] == 0.0 and "max_completion_tokens" not in bodies[3]


def test_an_unpinned_judge_keeps_its_cache_keys(tmp_path):
    """Judges without a pin key their judgments as before, so existing caches stay valid."""
    with FaultServer() as server:
        judge = http_judge(server, tmp_path)
        judge.grade([task(1)])
    _, messages = grading_messages(load_templates(), task(1))
    old = content_key({"judge": "http", "model": "judge-model", "temperature": 0.0, "max_tokens": 512,
                       "messages": messages, "sample": 0})
    assert judge.cache.get(old) is not None and server.gets == ["/v1/models"]


def test_a_served_judge_is_pinned_by_config_and_checked_against_the_server(tmp_path):
    models = [{"id": "judge-model", "object": "model", "root": "/srv/judge", "revision": "r1", "created": 1}]
    with FaultServer(models=models) as server:
        judge = http_judge(server, tmp_path, revision="r1")
        judge.grade([task(1)])
        assert len(server.requests) == 1
        http_judge(server, tmp_path, revision="r1").grade([task(1)])  # a rerun: no call
        assert len(server.requests) == 1
        with pytest.raises(PinError, match=r"eval.judge.revision: .* reports r1, the config pins r2"):
            http_judge(server, tmp_path, revision="r2").grade([task(1)])
        unpinned = http_judge(server, tmp_path)  # takes the server's revision: the same pin, cached
        unpinned.grade([task(1)])
        assert len(server.requests) == 1 and unpinned.pin == {"revision": "r1"}
    record = json.loads((tmp_path / "cache.jsonl").read_text().splitlines()[0])
    assert record["judge"]["pin"] == {"revision": "r1"} and record["served"]["root"] == "/srv/judge"
    assert describe(judge)["pin"] == {"revision": "r1"}


def test_changing_the_pin_rejudges_and_rerunning_does_not(tmp_path):
    with FaultServer() as server:  # a server that reports nothing: the config's pin is the pin
        for revision, calls in (("r1", 1), ("r1", 1), ("r2", 2), (None, 3), ("r2", 3)):
            http_judge(server, tmp_path, revision=revision).grade([task(1)])
            assert len(server.requests) == calls, revision
        digest = "ab" * 32
        http_judge(server, tmp_path, sha256=digest).grade([task(1)])
        http_judge(server, tmp_path, sha256=digest.upper()).grade([task(1)])
        assert len(server.requests) == 4
    pins = [json.loads(x)["judge"].get("pin") for x in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert pins == [{"revision": "r1"}, {"revision": "r2"}, None, {"sha256": digest}]


def test_sha256_pins_are_checked_with_both_digests_named(tmp_path):
    actual = {"model.safetensors": "a" * 64}
    check_sha256("A" * 64, actual, "m")  # case does not matter
    with pytest.raises(PinError, match=f"eval.judge.sha256: m/model.safetensors has SHA-256 {'a' * 64}, "
                                       f"the config pins {'b' * 64}"):
        check_sha256("b" * 64, actual, "m")
    two = {"a.safetensors": "a" * 64, "b.safetensors": "b" * 64}
    with pytest.raises(PinError, match="has 2 weight files; pin each by name: a.safetensors: aaa"):
        check_sha256("a" * 64, two, "m")
    with pytest.raises(PinError, match=r"missing: c.safetensors.*not pinned: b.safetensors"):
        check_sha256({"a.safetensors": "a" * 64, "c.safetensors": "c" * 64}, two, "m")
    with pytest.raises(PinError, match="expected a 64-digit SHA-256"):
        check_sha256("abc", actual, "m")
    check_sha256(dict(two), two, "m")


def test_build_judge_wants_a_local_judge_pinned():
    with pytest.raises(ValueError, match="pinned to its weights.*python -m mos judge pin some/folder"):
        build_judge({"kind": "local", "model": "some/folder"})
    with pytest.raises(ValueError, match="do not apply to kind 'reference'"):
        build_judge({"kind": "reference", "sha256": "a" * 64})
