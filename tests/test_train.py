"""The training loop (mos.training.loop), its outputs, the loss masks, and exact resumption after a kill.

    .venv/bin/python -m pytest tests/test_train.py
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from mos.data.tokenized import tokenize_records
from mos.data.tokenizer import load_tokenizer_dir
from mos.training.jobs import train
from mos.training.loop import TRAIN_LOG_COLUMNS, TRAJECTORY_COLUMNS, TrainSettings, lr_lambda
from tests.helpers import train_spec


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_run_writes_a_loadable_model_and_logs(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=30, checkpoint_every=0, log_every=5)
    info = train(spec, tmp_path / "run")
    run = tmp_path / "run"
    model = AutoModelForCausalLM.from_pretrained(run / "model")
    tok = AutoTokenizer.from_pretrained(run / "model")
    assert tok.chat_template and model.config.model_type == "llama"
    log = read_csv(run / "train_log.csv")
    assert list(log[0]) == TRAIN_LOG_COLUMNS and [int(r["step"]) for r in log] == list(range(5, 31, 5))
    assert float(log[-1]["loss"]) < float(log[0]["loss"]) - 0.5  # it learns
    traj = read_csv(run / "trajectory.csv")
    assert list(traj[0]) == TRAJECTORY_COLUMNS
    assert [int(r["step"]) for r in traj] == [0] * 4 + [30] * 4
    assert sum(int(r["drawn"]) for r in traj) == 30 * 8
    saved = json.loads((run / "run.json").read_text())
    assert saved["spec"] == spec and saved["final_weights"] == pytest.approx({k: 0.25 for k in spec["datasets"]})
    assert saved["provenance"]["versions"]["torch"] and saved["provenance"]["git_commit"]
    assert 0 <= info["padding_fraction"] < 0.10
    assert not (run / "checkpoint").exists()


def test_learning_rate_schedule_warms_up_then_decays():
    s = TrainSettings(steps=100, batch_size=1, micro_batch_size=1, lr=1.0, warmup_ratio=0.1)
    f = lr_lambda(s)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(99) == pytest.approx(1 / 90)


def test_response_mask_marks_exactly_the_assistant_replies(tokenizer_dir):
    tok = load_tokenizer_dir(tokenizer_dir)
    rec = {"conversations": [{"role": "user", "content": "Reverse: a, b"}, {"role": "assistant", "content": "b, a"},
                             {"role": "user", "content": "Now add c."}, {"role": "assistant", "content": "c, b, a"}]}
    resp = tokenize_records("x", [rec], tok, "response")
    allm = tokenize_records("x", [rec], tok, "all")
    ids, mask = resp.ids[0], resp.mask[0]
    assert tok.decode(ids[mask]) == "b, a<|eos|>c, b, a<|eos|>"
    assert allm.mask[0].sum() == len(ids) - 1 and not allm.mask[0][0]


def test_micro_batches_must_divide_the_batch(tiny_model_dir, testbed_dir, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of micro_batch_size"):
        train(train_spec(tiny_model_dir, testbed_dir, batch_size=6, micro_batch_size=4), tmp_path / "r")


def _run(spec_path, out):
    cmd = [sys.executable, "-m", "mos", "train", "--spec", f"@{spec_path}", "--out", str(out), "--threads", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})


def test_killed_run_resumes_to_the_same_weights_and_logs(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=200, checkpoint_every=10, log_every=10)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    reference = _run(spec_path, tmp_path / "ref")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()

    killed = _run(spec_path, tmp_path / "res")
    state = tmp_path / "res" / "checkpoint" / "state.pt"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and killed.poll() is None:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "res" / "run.json").exists(), "the run finished before it could be killed"
    assert state.exists()
    resumed = _run(spec_path, tmp_path / "res")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()

    a = load_file(tmp_path / "ref" / "model" / "model.safetensors")
    b = load_file(tmp_path / "res" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("trajectory.csv", "train_log.csv"):
        ra, rb = read_csv(tmp_path / "ref" / name), read_csv(tmp_path / "res" / name)
        for row in ra + rb:
            row.pop("seconds", None)
        assert ra == rb, name
    assert json.loads((tmp_path / "res" / "run.json").read_text())["timing"]["resumed"] is True


def test_tokenization_cache_round_trips_and_is_used(tiny_model_dir, testbed_dir, tmp_path):
    from mos.data.tokenized import load_dataset_file, load_tokenized
    from mos.data.tokenized import main as tokenize_main

    files = {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in ("Mathematics", "Medicine", "General", "NLP")}
    out = tmp_path / "tok.npz"
    tokenize_main(["--model", str(tiny_model_dir), "--max-length", "128", "--out", str(out),
                   *[a for n, p in files.items() for a in ("--dataset", f"{n}={p}")]])
    tok = load_tokenizer_dir(tiny_model_dir)
    for loss in ("all", "response"):
        cached, meta = load_tokenized(out, loss)
        assert meta["max_length"] == 128 and meta["datasets"] == files
        for name, path in files.items():
            direct = load_dataset_file(name, path, tok, loss, 128)
            assert len(cached[name]) == len(direct)
            for a, b, m, n in zip(cached[name].ids, direct.ids, cached[name].mask, direct.mask, strict=True):
                assert (a == b).all() and (m == n).all()
    spec = train_spec(tiny_model_dir, testbed_dir, steps=4, checkpoint_every=0)
    plain = train(spec, tmp_path / "plain")
    cached_run = train({**spec, "tokenized": str(out)}, tmp_path / "cached")
    assert plain["final_loss"] == cached_run["final_loss"]


def test_gradient_checkpointing_recomputes_layers_and_keeps_the_weights(tiny_model_dir, testbed_dir, tmp_path):
    """train.gradient_checkpointing: every decoder layer runs twice per micro-batch (forward, then
    recomputed in the backward pass) and the weights after a few steps are those without it."""
    from mos.training.loop import Run

    weights, calls = {}, {}
    for on in (False, True):
        spec = train_spec(tiny_model_dir, testbed_dir, steps=3, checkpoint_every=0, gradient_checkpointing=on)
        run = Run(spec, tmp_path / f"ckpt{on}")
        mlp = run.hf_model.get_decoder().layers[0].mlp  # inside the checkpointed layer (module hooks
        count, forward = [0], mlp.forward               # do not fire when it is recomputed)

        def counted(*args, forward=forward, count=count, **kwargs):
            count[0] += 1
            return forward(*args, **kwargs)

        mlp.forward = counted
        run.model.train()
        run.train_step()
        del mlp.forward
        calls[on] = count[0]
        run.train_step()
        run.train_step()
        weights[on] = {k: v.detach().clone() for k, v in run.hf_model.state_dict().items()}
    micro_batches = 8 // 4
    assert calls == {False: micro_batches, True: 2 * micro_batches}
    for k in weights[False]:
        torch.testing.assert_close(weights[True][k], weights[False][k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("family", ["llama", "gemma", "qwen2"])
def test_deepspeed_ranks_load_bf16_and_train_the_same_model(family, tmp_path):
    """Under DeepSpeed's bf16 engine each process loads the checkpoint in bf16 (half the host memory):
    the engine casts the parameters to bf16 before anything is built from them, so a bf16 load gives
    the same parameters and the same forward pass, whether the engine casts everything (module.bfloat16(),
    older DeepSpeed) or only the parameters, keeping float32 buffers (newer); elsewhere float32."""
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    from mos.models.backbones import FAMILIES, load_model
    from mos.training.loop import weights_dtype

    deepspeed = SimpleNamespace(distributed_type=DistributedType.DEEPSPEED, mixed_precision="bf16")
    assert weights_dtype(deepspeed) == torch.bfloat16
    for kind, precision in ((DistributedType.DEEPSPEED, "no"), (DistributedType.MULTI_GPU, "bf16")):
        accelerator = SimpleNamespace(distributed_type=kind, mixed_precision=precision)
        assert weights_dtype(accelerator) == torch.float32
    config_cls, model_cls = FAMILIES[family]
    torch.manual_seed(0)
    config = config_cls(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    model_cls(config).save_pretrained(tmp_path)  # float32 on disk
    ids = torch.randint(0, 300, (2, 17))

    def engine_cast(model, everything: bool):
        if everything:
            return model.bfloat16()
        for p in model.parameters():
            p.data = p.data.to(torch.bfloat16)
        return model

    for everything in (True, False):
        before = engine_cast(load_model(str(tmp_path)), everything)
        now = engine_cast(load_model(str(tmp_path), dtype=weights_dtype(deepspeed)), everything)
        assert all(torch.equal(a, b) for a, b in zip(before.parameters(), now.parameters(), strict=True))
        with torch.no_grad():
            assert torch.equal(before(input_ids=ids).logits, now(input_ids=ids).logits)
