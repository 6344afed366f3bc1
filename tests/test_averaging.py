"""Weight averaging (`train.average`): the tail mean and the EMA against hand arithmetic on a toy
module, and through the training loop: the saved model is the average, resumable mid-run.

    pytest tests/test_averaging.py
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mos.training.averaging import WeightAverage
from mos.training.jobs import train
from tests.helpers import train_spec


def toy_steps(kind: str, values: list[float], start: float, decay: float = 0.5) -> torch.Tensor:
    layer = torch.nn.Linear(1, 1, bias=False)
    avg = WeightAverage(layer, kind, steps=len(values), decay=decay, start=start)
    for step, v in enumerate(values, start=1):
        with torch.no_grad():
            layer.weight.fill_(v)
        avg.update(step)
    avg.copy_to_model()
    return layer.weight.detach().clone()


def test_tail_is_the_mean_of_the_last_steps():
    # 4 steps, start 0.5 -> steps 2, 3, 4 are averaged (the first averaged step is ceil(0.5 * 4) = 2)
    assert toy_steps("tail", [1.0, 2.0, 4.0, 9.0], start=0.5).item() == pytest.approx((2 + 4 + 9) / 3)


def test_ema_starts_at_the_first_averaged_step():
    got = toy_steps("ema", [1.0, 2.0, 4.0, 8.0], start=0.5, decay=0.5).item()
    expect = 2.0
    for v in (4.0, 8.0):
        expect = 0.5 * expect + 0.5 * v
    assert got == pytest.approx(expect)


def test_none_keeps_the_final_weights():
    assert toy_steps("none", [1.0, 2.0, 3.0], start=0.5).item() == 3.0


def test_the_loop_saves_the_average_and_resumes_it(tiny_model_dir, testbed_dir, tmp_path):
    plain = train_spec(tiny_model_dir, testbed_dir, steps=8, checkpoint_every=0)
    tail = train_spec(tiny_model_dir, testbed_dir, steps=8, checkpoint_every=4, average="tail", average_start=0.5)
    train(plain, tmp_path / "plain", threads=1)
    train(tail, tmp_path / "tail", threads=1)
    a = load_file(str(tmp_path / "plain" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "tail" / "model" / "model.safetensors"))
    assert any(not torch.equal(a[k], b[k]) for k in a), "the averaged model equals the final weights"
    logs = [(tmp_path / d / "train_log.csv").read_text().splitlines() for d in ("plain", "tail")]
    assert [r.rsplit(",", 1)[0] for r in logs[0]] == [r.rsplit(",", 1)[0] for r in logs[1]]  # same training
    # resume: a run stopped after its step-4 checkpoint and restarted ends with the same average
    stopped = dict(tail, train={**tail["train"]})
    out = tmp_path / "resumed"
    import mos.training.loop as loop

    class Stop(Exception):
        pass

    original = loop.Run.save_checkpoint

    def save_then_stop(self):
        original(self)
        raise Stop

    loop.Run.save_checkpoint = save_then_stop
    try:
        with pytest.raises(Stop):
            train(stopped, out, threads=1)
    finally:
        loop.Run.save_checkpoint = original
    train(stopped, out, threads=1)
    c = load_file(str(out / "model" / "model.safetensors"))
    assert all(torch.equal(b[k], c[k]) for k in b), "a resumed run ends with a different average"
