"""Tests that would catch a wrong answer (REVIEW M4, issue 9 item 4): each learned strategy's reward
recomputed by hand, with plain transformers and torch.autograd on each example alone (unpacked), on
the examples the strategy drew; and one optimizer step of the real training loop with one
micro-batch of 16 against four of 4.

    .venv/bin/python -m pytest tests/test_reward_arithmetic.py -q
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from baselines.mixture_of_skills import MixtureOfSkills
from baselines.multidds import MultiDDS
from baselines.multiuat import MultiUAT
from mos.data.tokenized import TokenizedDataset, load_dataset_file
from mos.data.tokenizer import load_tokenizer
from mos.mixing.probe import Probe
from mos.models.backbones import load_model
from mos.training.loop import Run
from tests.helpers import train_spec

SKILLS = ["Mathematics", "Medicine", "General", "NLP"]
HELD_OUT = 12  # validation examples per dataset (the first ones; the rest is the training pool)


@pytest.fixture(scope="module")
def setup(tiny_model_dir, testbed_dir):
    """The tiny Llama, and the testbed's datasets tokenized with the all-token loss (so the training
    targets, `mask`, differ from the `response` tokens), split into training and validation."""
    tok = load_tokenizer(str(tiny_model_dir))
    train, val = {}, {}
    for s in SKILLS:
        data = load_dataset_file(s, testbed_dir / "train" / f"{s}.jsonl", tok, "all", 128)
        assert not all((m == r).all() for m, r in zip(data.mask, data.response, strict=True))
        val[s], train[s] = data.subset(range(HELD_OUT)), data.subset(range(HELD_OUT, len(data)))
    model = load_model(str(tiny_model_dir)).eval()
    with torch.no_grad():  # a random init predicts almost uniformly (every token's entropy ≈ log V);
        model.get_output_embeddings().weight.mul_(10)  # sharpened, entropies range ~1.3-5.3 nats
    return model, tok.pad_token_id, train, val


def recording_probe(setup, seed: int = 3) -> tuple[Probe, dict[tuple[str, str], list[int]]]:
    """A probe whose draws are recorded: {(dataset, split): indices}, one draw of each."""
    model, pad, train, val = setup
    probe = Probe(model, train, pad, seed=seed, validation=val, pack_length=256)
    drawn: dict[tuple[str, str], list[int]] = {}
    draw: Callable = probe.sample

    def sample(dataset, n, split="train", among=None):
        indices = draw(dataset, n, split, among)
        assert (dataset, split) not in drawn, f"{dataset}/{split} drawn twice"
        drawn[dataset, split] = list(indices)
        return indices

    probe.sample = sample
    return probe, drawn


def alone(model, data: TokenizedDataset, i: int):
    """One example, unpacked: its token ids and the model's full output with all hidden states."""
    ids = torch.as_tensor(data.ids[i], dtype=torch.long)[None]
    return ids[0], model(input_ids=ids, output_hidden_states=True)


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a.double() @ b.double() / (a.double().norm() * b.double().norm()))


# ---------------------------------------------------------------- MultiDDS


def hand_gradient(model, data: TokenizedDataset, indices: list[int]) -> torch.Tensor:
    """∇ of the mean next-token loss over the examples' training targets (their `mask`)."""
    params = [p for p in model.parameters() if p.requires_grad]
    nll, count = 0.0, 0
    for i in indices:
        ids, out = alone(model, data, i)
        keep = torch.as_tensor(data.mask[i][1:])
        nll = nll + F.cross_entropy(out.logits[0, :-1][keep].float(), ids[1:][keep], reduction="sum")
        count += int(keep.sum())
    grads = torch.autograd.grad(nll / count, params)
    return torch.cat([g.flatten() for g in grads]).double()


def test_multidds_reward_is_the_mean_gradient_cosine_to_the_validation_sets(setup):
    model, _, train, val = setup
    probe, drawn = recording_probe(setup)
    strategy = MultiDDS(validation_size=HELD_OUT, grad_examples=6, validation_examples=5)
    rewards = strategy.rewards(probe)
    assert set(drawn) == {(s, split) for s in SKILLS for split in ("train", "validation")}
    assert all(len(drawn[s, "train"]) == 6 and len(drawn[s, "validation"]) == 5 for s in SKILLS)
    v = {s: hand_gradient(model, val[s], drawn[s, "validation"]) for s in SKILLS}
    expected = {}
    for s in SKILLS:
        g = hand_gradient(model, train[s], drawn[s, "train"])
        expected[s] = sum(cos(g, v[t]) for t in SKILLS) / len(SKILLS)
    assert rewards == pytest.approx(expected, abs=2e-6)
    # the cosines are far from each other and from 1, so a wrong set or weighting shows
    assert max(expected.values()) - min(expected.values()) > 0.02 and max(expected.values()) < 0.9


# ---------------------------------------------------------------- MultiUAT


@pytest.mark.parametrize("uncertainty", ["entropy", "ppl"])
def test_multiuat_reward_is_the_uncertainty_per_validation_response_token(setup, uncertainty):
    model, _, _, val = setup
    probe, drawn = recording_probe(setup)
    rewards = MultiUAT(validation_size=HELD_OUT, validation_examples=7, uncertainty=uncertainty).rewards(probe)
    assert set(drawn) == {(s, "validation") for s in SKILLS}
    expected = {}
    with torch.no_grad():
        for s in SKILLS:
            entropy, nll, count = 0.0, 0.0, 0
            for i in drawn[s, "validation"]:
                ids, out = alone(model, val[s], i)
                logp = torch.log_softmax(out.logits[0, :-1].double(), dim=-1)  # full logits, every position
                keep = torch.as_tensor(val[s].response[i][1:])                  # targets: the response tokens
                entropy += float(-(logp.exp() * logp).sum(-1)[keep].sum())
                nll += float(-logp.gather(-1, ids[1:, None])[:, 0][keep].sum())
                count += int(keep.sum())
            expected[s] = entropy / count if uncertainty == "entropy" else torch.exp(torch.tensor(nll / count)).item()
    assert rewards == pytest.approx(expected, rel=2e-6)
    assert max(expected.values()) / min(expected.values()) > 1.02  # datasets differ: a wrong set shows


# ---------------------------------------------------------------- COSSIM


def test_cossim_embedding_is_the_mean_pooled_last_hidden_state(setup):
    model, _, train, _ = setup
    probe, _ = recording_probe(setup)
    for s in SKILLS:
        indices = [0, 5, 9, 17]
        got = probe.embeddings(s, indices)
        with torch.no_grad():
            want = torch.stack([alone(model, train[s], i)[1].hidden_states[-1][0].mean(dim=0) for i in indices])
        assert got.shape == want.shape
        torch.testing.assert_close(got, want.double(), rtol=0, atol=2e-6)


def test_cossim_reward_is_the_mean_cosine_of_batch_embeddings(setup):
    model, _, train, _ = setup
    probe, drawn = recording_probe(setup)
    rewards = MixtureOfSkills(reward="cossim", cossim_examples=6).rewards(probe)
    assert set(drawn) == {(s, "train") for s in SKILLS}
    with torch.no_grad():  # z_i: the mean over the drawn examples of their mean-pooled last states
        z = {s: torch.stack([alone(model, train[s], i)[1].hidden_states[-1][0].mean(dim=0).double()
                             for i in drawn[s, "train"]]).mean(dim=0) for s in SKILLS}
    expected = {s: sum(cos(z[s], z[t]) for t in SKILLS) / len(SKILLS) for s in SKILLS}  # itself included
    assert rewards == pytest.approx(expected, abs=1e-6)
    mospec = MixtureOfSkills(reward="cossim", cossim_examples=6, target="Medicine").rewards(recording_probe(setup)[0])
    assert mospec == pytest.approx({s: cos(z[s], z["Medicine"]) for s in SKILLS}, abs=1e-6)


# ---------------------------------------------------------------- gradient accumulation


def one_step(tiny_model_dir, testbed_dir, out, micro_batch_size: int):
    """One optimizer step of the real loop on 16 examples; its loss, gradients and weights."""
    spec = train_spec(tiny_model_dir, testbed_dir, steps=1, batch_size=16, micro_batch_size=micro_batch_size,
                      warmup_ratio=0.0, checkpoint_every=0, log_every=1)
    run = Run(spec, out)
    grads: dict[str, torch.Tensor] = {}

    def keep_grads(*_):
        grads.update({n: p.grad.detach().clone() for n, p in run.hf_model.named_parameters() if p.grad is not None})

    run.optimizer.optimizer.register_step_pre_hook(keep_grads)
    before = {n: p.detach().clone() for n, p in run.hf_model.named_parameters()}
    info = run.run()
    after = {n: p.detach().clone() for n, p in run.hf_model.named_parameters()}
    return info["final_loss"], grads, before, after


def test_one_micro_batch_of_16_equals_four_of_4(tiny_model_dir, testbed_dir, tmp_path):
    """The loss is one token mean over the whole batch, however it is split: the same loss,
    gradients and weights (to float32 rounding) with 4 accumulated micro-batches as with one."""
    loss16, g16, w0, w16 = one_step(tiny_model_dir, testbed_dir, tmp_path / "a", 16)
    loss4, g4, w0b, w4 = one_step(tiny_model_dir, testbed_dir, tmp_path / "b", 4)
    assert all(torch.equal(w0[n], w0b[n]) for n in w0)
    assert loss4 == pytest.approx(loss16, rel=1e-6)
    assert set(g4) == set(g16) == set(w0)
    for n in g16:
        torch.testing.assert_close(g4[n], g16[n], rtol=1e-4, atol=1e-7, msg=n)
    step = max(float((w16[n] - w0[n]).abs().max()) for n in w0)  # lr 3e-3: Adam's first step moves ~lr
    # Adam's first step is lr·g/(|g| + ε), ε = 1e-8: where |g| is near ε, float32 rounding of g moves it
    # by up to lr, so the weights are compared where the gradient is well above ε
    differences = [(w4[n] - w16[n])[g16[n].abs() > 1e-6] for n in w0]
    gap = max(float(d.abs().max()) for d in differences if d.numel())
    assert step > 1e-3 and gap <= 1e-5, (step, gap)
