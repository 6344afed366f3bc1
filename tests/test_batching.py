"""Packing (mos.data.batching) and sampling (mos.mixing.sampler).

Packing must not change results: every example in a packed row gets exactly the logits it gets
alone (block-diagonal attention from restarted position ids), for all three model families.

    .venv/bin/python -m pytest tests/test_batching.py
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mos.data.batching import IGNORE, assign_rows, pack
from mos.data.tokenizer import load_tokenizer_dir
from mos.mixing.sampler import MixtureSampler
from mos.models.backbones import FAMILIES, build_tiny


def test_rows_are_balanced_and_hold_every_example():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 90, size=32).tolist()
    rows = assign_rows(lengths, 256)
    assert sorted(i for r in rows for i in r) == list(range(32))
    sums = [sum(lengths[i] for i in r) for r in rows]
    assert len(rows) == int(np.ceil(sum(lengths) / 256))
    assert max(sums) - min(sums) <= max(lengths)


def test_pack_labels_positions_and_padding():
    ids = [np.arange(5) + 10, np.arange(3) + 20, np.arange(7) + 30]
    masks = [np.array([0, 0, 1, 1, 1], bool), np.array([0, 1, 1], bool), np.ones(7, bool)]
    batch = pack(ids, masks, pack_length=8, pad_id=0)
    assert batch.n_tokens == 15 and batch.n_targets == 3 + 2 + 7
    assert batch.n_padding == batch.input_ids.numel() - 15
    for row_ids, row_pos, row_lab in zip(batch.input_ids, batch.position_ids, batch.labels, strict=True):
        starts = (row_pos == 0).nonzero().flatten().tolist()
        assert row_ids[0] != 0  # rows start with a real token
        for s in starts:
            if row_ids[s] != 0:
                assert row_lab[s] in (IGNORE, row_ids[s])
    assert (batch.labels[batch.input_ids == 0] == IGNORE).all()
    assert ((batch.labels != IGNORE).sum()) == batch.n_targets


def test_padding_fraction_of_realistic_batches_is_small():
    rng = np.random.default_rng(1)
    total = pad = 0
    for _ in range(50):
        ids = [np.ones(n, dtype=np.int64) for n in rng.integers(15, 80, size=16)]
        b = pack(ids, [np.ones(len(x), bool) for x in ids], 256, 0)
        total += b.input_ids.numel()
        pad += b.n_padding
    assert pad / total < 0.10


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_packed_rows_give_the_same_logits_as_separate_examples(family, tokenizer_dir):
    tok = load_tokenizer_dir(tokenizer_dir)
    spec = {"family": family, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}
    model = build_tiny(spec, tok, seed=0).eval()
    rng = np.random.default_rng(2)
    ids = [rng.integers(5, len(tok), size=n) for n in (7, 12, 5, 9)]
    batch = pack(ids, [np.ones(len(x), bool) for x in ids], pack_length=20, pad_id=tok.pad_token_id)
    rows = assign_rows([len(x) for x in ids], 20)
    with torch.no_grad():  # no KV cache: with one, transformers does not split packed sequences
        packed = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits
        for r, row in enumerate(rows):
            at = 0
            for i in row:
                alone = model(input_ids=torch.as_tensor(ids[i])[None], use_cache=False).logits[0]
                torch.testing.assert_close(packed[r, at:at + len(ids[i])], alone, atol=1e-5, rtol=1e-4)
                at += len(ids[i])


def test_training_loss_of_a_packed_batch_equals_the_per_example_sum(tokenizer_dir):
    from mos.training.loop import CausalLMLoss

    tok = load_tokenizer_dir(tokenizer_dir)
    model = build_tiny({"family": "llama", "hidden_size": 32, "num_layers": 2, "num_heads": 2,
                        "intermediate_size": 64}, tok, seed=1)
    rng = np.random.default_rng(3)
    ids = [rng.integers(5, len(tok), size=n) for n in (6, 11, 8)]
    masks = [rng.random(len(x)) < 0.6 for x in ids]
    for m in masks:
        m[0] = False
    batch = pack(ids, masks, pack_length=16, pad_id=tok.pad_token_id)
    with torch.no_grad():
        got = CausalLMLoss(model)(batch.input_ids, batch.position_ids, batch.labels)
        want = 0.0
        for x, m in zip(ids, masks, strict=True):
            logp = torch.log_softmax(model(input_ids=torch.as_tensor(x)[None], use_cache=False).logits[0], -1)
            for t in np.flatnonzero(m):
                want -= logp[t - 1, x[t]].item()
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_sampler_frequencies_follow_weights_per_example():
    s = MixtureSampler({"a": 10, "b": 1000, "c": 5}, seed=0)
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    which = np.concatenate([s.draw(w, 100)[0] for _ in range(200)])
    freq = np.bincount(which, minlength=3) / len(which)
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.2], atol=0.015)
    assert s.take_counts() == {"a": int((which == 0).sum()), "b": int((which == 1).sum()), "c": int((which == 2).sum())}
    assert s.take_counts() == {"a": 0, "b": 0, "c": 0}


def test_sampler_indices_stay_in_range_and_batch_unit_uses_one_dataset():
    s = MixtureSampler({"a": 3, "b": 7}, seed=1, unit="batch")
    for _ in range(50):
        which, index = s.draw({"a": 0.5, "b": 0.5}, 16)
        assert len(set(which.tolist())) == 1
        assert index.max() < (3 if which[0] == 0 else 7)


def test_sampler_state_round_trip_and_ranks_differ():
    w = {"a": 0.5, "b": 0.5}
    s = MixtureSampler({"a": 100, "b": 100}, seed=5)
    s.draw(w, 10)
    state = s.state_dict()
    first = s.draw(w, 10)
    s2 = MixtureSampler({"a": 100, "b": 100}, seed=5)
    s2.load_state_dict(state)
    again = s2.draw(w, 10)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    r1 = MixtureSampler({"a": 100, "b": 100}, seed=5, rank=1, world_size=2).draw(w, 10)
    r0 = MixtureSampler({"a": 100, "b": 100}, seed=5, rank=0, world_size=2).draw(w, 10)
    assert len(r0[1]) == len(r1[1]) == 5 and not np.array_equal(r1[1], r0[1])


@pytest.mark.parametrize("unit", ["example", "batch"])
def test_ranks_share_out_the_single_process_global_batch(unit):
    """Issue 11: W ranks draw exactly the examples one process draws, each its own slice of every
    step's global batch; under `batch` every rank of a step has the same one dataset (L2)."""
    sizes, w = {"a": 50, "b": 70, "c": 9}, {"a": 0.5, "b": 0.3, "c": 0.2}
    one = MixtureSampler(sizes, seed=3, unit=unit)
    ranks = [MixtureSampler(sizes, seed=3, rank=r, world_size=4, unit=unit) for r in range(4)]
    for _ in range(20):
        whole = one.draw(w, 16)
        parts = [s.draw(w, 16) for s in ranks]
        for k in range(2):
            assert np.array_equal(np.concatenate([p[k] for p in parts]), whole[k])
        if unit == "batch":
            assert len({int(x) for p in parts for x in p[0]}) == 1
    assert sum(np.array(list(s.take_counts().values())) for s in ranks).tolist() == list(one.take_counts().values())
    with pytest.raises(ValueError, match="does not split over 4 processes"):
        ranks[0].draw(w, 10)
