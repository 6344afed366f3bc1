"""One AdamW step computed aside (DynamixSFT's Adam look-ahead): the run's optimizer settings and moments
per parameter (`adam_settings`, read only), and θ after a step from them as a new tensor (`adam_step`,
torch.optim.AdamW's arithmetic); the optimizer and its state are never changed.

    from mos.mixing.adam_lookahead import adam_step
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def adam_step(p: torch.Tensor, g: torch.Tensor, lr: float, exp_avg: torch.Tensor | None,
              exp_avg_sq: torch.Tensor | None, steps: float, beta1: float, beta2: float, eps: float,
              weight_decay: float) -> torch.Tensor:
    """θ after one AdamW step from the given moments (None: zero), as a new tensor; the moments are
    not changed (torch.optim.AdamW's arithmetic, in the parameter's dtype)."""
    m = (torch.zeros_like(g) if exp_avg is None else exp_avg.clone()).lerp_(g, 1 - beta1)
    v = (torch.zeros_like(g) if exp_avg_sq is None else exp_avg_sq.mul(beta2)).addcmul_(g, g, value=1 - beta2)
    t = steps + 1
    bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
    denom = v.sqrt().div_(bias2 ** 0.5).add_(eps)
    return p.mul(1 - lr * weight_decay).addcdiv_(m, denom, value=-lr / bias1)


def adam_settings(optimizer: torch.optim.Optimizer | None, params: Sequence[torch.nn.Parameter]) -> list[tuple]:
    """Per parameter (exp_avg, exp_avg_sq, steps taken, β1, β2, ε, weight decay), read from the
    optimizer (None moments before the parameter's first step)."""
    opt = optimizer
    if opt is None:
        raise RuntimeError("the Adam look-ahead reads the run's optimizer: the loop gives it to the probe "
                           "(Probe(..., optimizer=...))")
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    missing = sum(id(p) not in group_of for p in params)
    if missing:
        raise RuntimeError(f"the optimizer holds no per-parameter state for {missing} of the model's "
                           f"{len(params)} trainable tensors (DeepSpeed ZeRO keeps flat partitions): the Adam "
                           "look-ahead needs torch's AdamW; use lookahead_step: sgd")
    out = []
    for p in params:
        g = group_of[id(p)]
        if g.get("amsgrad") or g.get("maximize"):
            raise RuntimeError("the Adam look-ahead follows plain AdamW (no amsgrad, no maximize)")
        st = opt.state.get(p, {})
        steps = float(st["step"]) if "step" in st else 0.0
        out.append((st.get("exp_avg"), st.get("exp_avg_sq"), steps, *g["betas"], g["eps"], g["weight_decay"]))
    return out
