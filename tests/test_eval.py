"""Tests of the lm-eval based evaluation (mos.evaluation.evaluate, mos.evaluation.tasks/metrics/export_task).

A tiny real Llama (tokenizer trained here, model overfit for a few steps on three Q/A pairs) is
evaluated once through `mos.evaluation.evaluate`; the tests check the metric arithmetic, the rendered prompts
and their BOS token, that lm-eval's per-choice log-likelihoods equal a direct transformers forward
pass, that the trained answers win, that bad specs fail before the model is loaded, and that
several --spec/--out pairs in one command give the same files as separate commands, a failing pair
leaving the others intact.

    .venv/bin/python -m pytest tests/test_eval.py             # ~15 s
    (includes the `lm-eval run` CLI round trip on an exported task, ~15 s)
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from mos.evaluation.benchmarks import scored_items  # noqa: E402
from mos.evaluation.benchmarks.mmlu import check_mmlu_hub  # noqa: E402
from mos.evaluation.benchmarks.mmlu_dev import mmlu_dev_task, render_mmlu_dev  # noqa: E402
from mos.evaluation.benchmarks.testbed_mc import render_testbed_item  # noqa: E402
from mos.evaluation.evaluate import SpecError, main, validate_spec  # noqa: E402
from mos.evaluation.lm import plan_batch, wants_bos  # noqa: E402
from mos.evaluation.metrics import COLUMNS, macro_average, metric_rows  # noqa: E402
from mos.evaluation.mmlu_dev import parse_mmlu_dev, subject_groups  # noqa: E402

torch.set_num_threads(1)

TRAINED = [  # (question, answer) pairs the tiny model is overfit on
    ("Which river flows through the town of Ardel?", "The Velm river flows through Ardel."),
    ("What is the favourite food of the dragon Oska?", "Oska likes roasted turnips best."),
    ("How many moons does the planet Quirra have?", "Quirra has seven moons."),
]
DISTRACTORS = ["The Tarn river flows through Ardel.", "Oska likes cold porridge best.",
               "Quirra has two moons.", "Nobody knows the answer."]
SPEC = {"family": "llama", "hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128}


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    nouns = ["river", "town", "dragon", "planet", "moon", "food", "answer", "question", "doctor", "number"]
    verbs = ["flows", "likes", "has", "knows", "sees", "counts"]
    out = [q + " " + a for q, a in TRAINED] + DISTRACTORS
    for _ in range(n):
        out.append(f"The {rng.choice(nouns)} {rng.choice(verbs)} {rng.randint(0, 99)} {rng.choice(nouns)}s.")
    return out


def _overfit(model: torch.nn.Module, tokenizer, steps: int = 60) -> None:
    """A few full-sequence LM steps on the three trained conversations."""
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                                           tokenize=False) for q, a in TRAINED]
    batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from mos.data.tokenizer import train_tokenizer
    from mos.models.backbones import build_tiny

    tok = train_tokenizer(iter(_sentences(400)), vocab_size=512)
    model = build_tiny(SPEC, tok, seed=0)
    _overfit(model, tok)
    path = tmp_path_factory.mktemp("model")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _mc_items() -> list[dict]:
    items = []
    for k, (q, a) in enumerate(TRAINED):
        choices = [d for d in DISTRACTORS if d != a][:3]
        choices.insert(k % 4, a)
        items.append({"id": f"t{k}", "skill": "General", "subject": f"trained_{k}", "group": "Others",
                      "messages": [{"role": "user", "content": q}], "choices": choices, "answer": k % 4})
    items.append({"id": "m0", "skill": "Mathematics", "subject": "math_add", "group": "Mathematics",
                  "messages": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"},
                               {"role": "user", "content": "And 2 + 4?"}],
                  "choices": ["6", "7", "8"], "answer": 0})
    return items


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    mc = root / "mc.jsonl"
    mc.write_text("".join(json.dumps(i) + "\n" for i in _mc_items()), encoding="utf-8")
    items, _ = parse_mmlu_dev()
    keep = {"abstract_algebra", "anatomy", "astronomy"}
    dev = root / "mmlu_dev.jsonl"
    dev.write_text("".join(json.dumps(i) + "\n" for i in items if i["subject"] in keep), encoding="utf-8")
    return {"testbed_mc": mc, "mmlu_dev": dev}


@pytest.fixture(scope="module")
def evaluated(model_dir, data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval")
    spec = {"model": str(model_dir), "benchmarks": {k: str(v) for k, v in data.items()}, "batch_size": 8}
    assert main(["--spec", json.dumps(spec), "--out", str(out), "--threads", "1"]) == 0
    return out


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _samples(out: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "lm_eval" / f"samples_{task}.jsonl").open(encoding="utf-8")]


# --- metric arithmetic --------------------------------------------------------------------------

def test_macro_average_by_subject_group_and_skill():
    items = ([{"subject": "s1", "group": "A", "skill": "X", "acc": v} for v in (1, 0)]
             + [{"subject": "s2", "group": "A", "skill": "Y", "acc": v} for v in (1, 1, 1)]
             + [{"subject": "s3", "group": "B", "skill": "Y", "acc": 0}])
    rows = {(r["scope"], r["name"]): (r["value"], r["n_items"])
            for r in metric_rows("b", items, ["acc"], scopes=("group", "skill"))}
    assert rows[("subject", "s1")] == (0.5, 2)
    assert rows[("subject", "s2")] == (1.0, 3)
    assert rows[("group", "A")] == (0.75, 5)          # (0.5 + 1) / 2, not 4/5
    assert rows[("group", "B")] == (0.0, 1)
    assert rows[("skill", "X")] == (0.5, 2)
    assert rows[("skill", "Y")] == (0.5, 4)           # (1 + 0) / 2, not 3/4
    assert rows[("overall", "all")] == (0.5, 6)       # (0.5 + 1 + 0) / 3, not 4/6
    assert macro_average([0.2, 0.4]) == pytest.approx(0.3)


def test_subject_in_two_groups_is_an_error():
    items = [{"subject": "s", "group": "A", "acc": 1}, {"subject": "s", "group": "B", "acc": 0}]
    with pytest.raises(ValueError, match="two groups"):
        metric_rows("b", items, ["acc"])


def test_scored_items_for_builtin_mmlu_use_table7_groups():
    samples = {f"mmlu_{s}": [{"doc_id": 0, "acc": 1.0}] for s in subject_groups()}
    samples["mmlu_anatomy"] = [{"doc_id": 0, "acc": 0.0}, {"doc_id": 1, "acc": 1.0}]
    items = scored_items("mmlu", samples)
    assert [i["item"] for i in items if i["subject"] == "anatomy"] == ["anatomy:0", "anatomy:1"]  # item ids kept
    rows = {(r["scope"], r["name"]): r for r in metric_rows("mmlu", items, ["acc"])}
    assert rows[("subject", "anatomy")]["value"] == 0.5
    assert rows[("group", "Medicine")]["value"] == pytest.approx((8 + 0.5) / 9)
    assert rows[("overall", "all")]["value"] == pytest.approx((56 + 0.5) / 57)
    assert rows[("overall", "all")]["n_items"] == 58


# --- prompts and BOS ----------------------------------------------------------------------------

def test_rendered_prompt_is_the_chat_template_with_one_bos(model_dir):
    from lm_eval.models.huggingface import HFLM

    from mos.data.tokenizer import load_tokenizer

    tok = load_tokenizer(str(model_dir))
    item = _mc_items()[-1]
    doc = render_testbed_item(item, tok)
    assert doc["prompt"] == tok.apply_chat_template(item["messages"], tokenize=False, add_generation_prompt=True)
    assert doc["choices"] == [c + tok.eos_token for c in item["choices"]]
    assert wants_bos(tok) is True

    lm = HFLM(pretrained=str(model_dir), dtype="float32", device="cpu", batch_size=1, add_bos_token=wants_bos(tok))
    context, continuation = lm._encode_pair(doc["prompt"], doc["choices"][0])
    ids = context + continuation
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert continuation[-1] == tok.eos_token_id
    plain = lm.tok_encode("The following are multiple choice questions")
    assert plain[0] == tok.bos_token_id and plain.count(tok.bos_token_id) == 1


def test_prerendered_mmlu_prompts_equal_lm_evals_own(data):
    from lm_eval.tasks import TaskManager

    (task,) = TaskManager(include_defaults=False).load([mmlu_dev_task(data["mmlu_dev"])])["tasks"].values()
    docs = list(task.test_docs())
    rendered = render_mmlu_dev(docs)
    assert len(docs) == 15
    assert [d["prompt"] for d in rendered] == [task.fewshot_context(d, num_fewshot=0) for d in docs]


def test_token_budget_batches_keep_every_continuation():
    # (strings, context ids, continuation ids), sorted longest first as lm-eval does
    reqs = [(None, [1] * 99, [2]), (None, [1] * 60, [2] * 5), (None, [1] * 40, [2] * 3), (None, [1] * 9, [2])]
    rows, keep = plan_batch(reqs, 0, max_rows=64, batch_tokens=300, max_length=1024)
    assert rows == 3                       # 300 // 99 padded tokens per row
    assert keep == 99 - 42 + 3             # row 3's continuation starts 60 positions before the end
    assert plan_batch(reqs, 3, 64, 300, 1024) == (1, 1)
    assert plan_batch(reqs, 0, 2, 10**6, 1024)[0] == 2
    assert plan_batch(reqs, 0, 64, 10, 1024)[0] == 1                   # a long request still gets a batch
    assert plan_batch([(None, [1] * 2000, [2])] * 5, 0, 64, 4096, 1024) == (4, 1)  # truncated to max_length


# --- end to end through lm-eval -----------------------------------------------------------------

def test_metrics_csv_rows(evaluated):
    rows = _read_csv(evaluated / "metrics.csv")
    assert tuple(rows[0]) == COLUMNS
    by = {(r["benchmark"], r["scope"], r["name"], r["metric"]): r for r in rows}
    assert {r["benchmark"] for r in rows} == {"testbed_mc", "mmlu_dev"}
    assert {r["scope"] for r in rows if r["benchmark"] == "mmlu_dev"} == {"overall", "group", "subject"}
    assert by[("testbed_mc", "skill", "Mathematics", "acc")]["n_items"] == "1"
    assert by[("mmlu_dev", "group", "Medicine", "acc")]["n_items"] == "5"
    for bench in ("testbed_mc", "mmlu_dev"):
        subjects = [float(r["value"]) for r in rows if r["benchmark"] == bench and r["scope"] == "subject"
                    and r["metric"] == "acc"]
        overall = float(by[(bench, "overall", "all", "acc")]["value"])
        assert overall == pytest.approx(sum(subjects) / len(subjects))
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
    assert (evaluated / "lm_eval" / "results.json").is_file()


def test_trained_answers_win(evaluated):
    for sample in _samples(evaluated, "testbed_mc"):
        if sample["doc"]["subject"].startswith("trained_"):
            assert sample["acc"] == 1.0, sample["doc"]["id"]
    rows = {(r["scope"], r["name"], r["metric"]): r for r in _read_csv(evaluated / "metrics.csv")
            if r["benchmark"] == "testbed_mc"}
    assert float(rows[("skill", "General", "acc")]["value"]) == 1.0


def _direct_loglik(model, ids: list[int], n_context: int) -> float:
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    return sum(logprobs[i - 1, ids[i]].item() for i in range(n_context, len(ids)))


def test_lm_eval_logliks_match_a_direct_forward_pass(evaluated, model_dir):
    from mos.data.tokenizer import load_tokenizer
    from mos.models.backbones import load_model

    tok, model = load_tokenizer(str(model_dir)), load_model(str(model_dir)).eval()
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    for sample in _samples(evaluated, "testbed_mc"):
        prompt, logliks = sample["doc"]["prompt"], [r[0][0] for r in sample["resps"]]
        direct = []
        for (context, choice), ll in zip(sample["arguments"], logliks, strict=True):
            assert context == prompt and enc(prompt)[0] == tok.bos_token_id
            # lm-eval moves the prompt's trailing whitespace into the continuation
            stripped = prompt.rstrip()
            assert ll == pytest.approx(_direct_loglik(model, enc(prompt + choice), len(enc(stripped))), abs=1e-3)
            direct.append(_direct_loglik(model, enc(prompt) + enc(choice), len(enc(prompt))))
        # the ranking is that of log P(choice + eos | prompt)
        assert [a - logliks[0] for a in logliks] == pytest.approx([d - direct[0] for d in direct], abs=1e-3)
        assert sample["acc"] == float(max(range(len(direct)), key=direct.__getitem__) == sample["target"])
    for sample in _samples(evaluated, "mmlu_dev")[:4]:
        for (context, letter), resp in zip(sample["arguments"], sample["resps"], strict=True):
            assert context.startswith("The following are multiple choice questions (with answers) about ")
            assert context.endswith("\nAnswer:") and letter in (" A", " B", " C", " D")
            ids = [tok.bos_token_id] + enc(context + letter)
            assert resp[0][0] == pytest.approx(_direct_loglik(model, ids, 1 + len(enc(context))), abs=1e-3)


# --- failures before the model is loaded --------------------------------------------------------

def test_bad_spec_fails_before_loading_the_model(data, model_dir, tmp_path, monkeypatch, capsys):
    import mos.evaluation.evaluate as ev

    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("evaluation started"))
    base = {"model": str(model_dir), "batch_size": 4}
    broken = tmp_path / "broken_mc.jsonl"
    broken.write_text(json.dumps({**_mc_items()[0], "answer": 7}) + "\n", encoding="utf-8")
    bad = [({"benchmarks": {"hellaswag": str(data["mmlu_dev"])}}, "hellaswag"),
           ({"benchmarks": {"testbed_mc": str(tmp_path / "nope.jsonl")}}, "nope.jsonl"),
           ({"benchmarks": {}}, "benchmarks"),
           ({"benchmarks": {"testbed_mc": str(broken)}}, "broken_mc.jsonl:1: 'answer' 7"),
           ({"benchmarks": {"mmlu_dev": str(data["mmlu_dev"])}, "model": str(tmp_path / "no_model")}, "no_model")]
    for extra, needle in bad:
        assert main(["--spec", json.dumps({**base, **extra}), "--out", str(tmp_path / "o")]) == 2
        assert needle in capsys.readouterr().err
    with pytest.raises(SpecError, match="model"):
        validate_spec({"benchmarks": {"mmlu_dev": str(data["mmlu_dev"])}})
    assert not (tmp_path / "o").exists()


def test_several_pairs_in_one_command(evaluated, model_dir, data, tmp_path, capsys):
    spec = {"model": str(model_dir), "benchmarks": {k: str(v) for k, v in data.items()}, "batch_size": 8}
    broken = tmp_path / "broken_model"  # exists, so the spec is valid, but there is no model in it
    broken.mkdir()
    outs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    argv = ["--spec", json.dumps(spec), "--out", str(outs[0]),
            "--spec", json.dumps({**spec, "model": str(broken)}), "--out", str(outs[1]),
            "--spec", json.dumps({**spec, "benchmarks": {"mmlu_dev": str(data["mmlu_dev"])}}), "--out", str(outs[2]),
            "--threads", "1"]
    assert main(argv) == 1
    assert "failed" in capsys.readouterr().err
    alone = _read_csv(evaluated / "metrics.csv")
    assert _read_csv(outs[0] / "metrics.csv") == alone   # the same numbers as a command of its own
    assert not (outs[1] / "metrics.csv").exists()
    assert _read_csv(outs[2] / "metrics.csv") == [r for r in alone if r["benchmark"] == "mmlu_dev"]
    for name in ("results.json", "samples_mmlu_dev.jsonl"):
        assert (outs[2] / "lm_eval" / name).is_file()


def test_a_bad_pair_stops_all_before_loading(model_dir, data, tmp_path, monkeypatch, capsys):
    import mos.evaluation.evaluate as ev

    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("evaluation started"))
    good = {"model": str(model_dir), "benchmarks": {"mmlu_dev": str(data["mmlu_dev"])}}
    bad = {**good, "batch_tokens": 0}
    argv = ["--spec", json.dumps(good), "--out", str(tmp_path / "a"), "--spec", json.dumps(bad), "--out", str(tmp_path / "b")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--spec #2" in err and "batch_tokens" in err
    assert main(["--spec", json.dumps(good), "--out", str(tmp_path / "a"), "--spec", json.dumps(good)]) == 2
    assert main(["--spec", json.dumps(good), "--out", str(tmp_path / "a"),
                 "--spec", json.dumps(good), "--out", str(tmp_path / "a")]) == 2
    assert not (tmp_path / "a").exists()


def test_mmlu_without_the_hub_fails_clearly(monkeypatch):
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SpecError, match="cais/mmlu.*mmlu_dev"):
        check_mmlu_hub("cais/mmlu")
    with pytest.raises(SpecError, match="cais/mmlu"):
        check_mmlu_hub("my/mmlu")


# --- the stock lm-eval command line -------------------------------------------------------------

def test_exported_task_runs_in_the_lm_eval_cli(evaluated, model_dir, data, tmp_path):
    from mos.evaluation.export_task import export_testbed_mc

    yaml_path = export_testbed_mc(model_dir, data["testbed_mc"], tmp_path / "tasks")
    script = Path(sys.executable).with_name("lm-eval")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "lm_eval"]
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets")}
    subprocess.run([*cli, "run", "--model", "hf", "--model_args", f"pretrained={model_dir}",
                    "--tasks", str(yaml_path), "--include_path", str(yaml_path.parent), "--device", "cpu",
                    "--batch_size", "4", "--output_path", str(tmp_path / "out"), "--log_samples"],
                   check=True, cwd=tmp_path, env=env, capture_output=True)
    (found,) = (tmp_path / "out").rglob("samples_testbed_mc_*.jsonl")
    cli_samples = sorted((json.loads(line) for line in found.open()), key=lambda s: s["doc_id"])
    api_samples = sorted(_samples(evaluated, "testbed_mc"), key=lambda s: s["doc_id"])
    for a, b in zip(cli_samples, api_samples, strict=True):
        assert a["doc"]["prompt"] == b["doc"]["prompt"]
        assert [float(r[0][0]) for r in a["resps"]] == pytest.approx([r[0][0] for r in b["resps"]], abs=1e-4)
