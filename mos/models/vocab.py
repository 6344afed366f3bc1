"""Full-vocabulary computations in bounded chunks of positions: memory O(chunk x V), never O(T x V).

A causal LM's output layer turns the hidden states of T positions into T x V logits. At the paper's
sizes (64 ShareGPT examples ≈ 80K positions, V = 128K for LLaMA-3 or 256K for Gemma) one float32
copy of them is 41-82 GB. The functions here take the hidden states of the *target* positions only
(n x H, already selected) and stream them through the output layer `chunk_rows(V, budget)` positions
at a time, so at most a few (chunk x V) float32 tensors are alive at once (docs/memory.md):

    target_stats(hidden, head, targets, softcap, entropy, budget)   # no grad: NLL (and entropy) per target
    cross_entropy_sum(hidden, head, targets, softcap, budget)       # with grad: summed token cross-entropy
    cross_entropy_terms(hidden, head, targets, softcap, budget)     # the same sum and its per-target terms

Logits are computed like the training loss computes them: the head's matrix product in the ambient
precision (bf16 under autocast), then float32, then Gemma-2's `final_logit_softcapping`
(cap · tanh(z / cap)) where the model config has one. Where everything fits in one chunk the
computation is exactly the plain one (same operations, bit for bit); above that
`cross_entropy_sum` recomputes each chunk's logits in its backward pass instead of keeping them,
one extra output-layer product per chunk for T x V memory (tests/test_memory.py checks both).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Logit elements per chunk: 2**26 float32 = 256 MiB per copy (512 positions at V = 128K, 256 at 256K).
LOGIT_BUDGET = 1 << 26


def chunk_rows(vocab: int, budget: int = LOGIT_BUDGET) -> int:
    """Positions per chunk so that one chunk's logits hold at most `budget` elements."""
    return max(1, int(budget) // max(1, int(vocab)))


def softcap_of(model: torch.nn.Module) -> float | None:
    """Gemma-2's final logit soft-capping (None for models without it)."""
    return getattr(getattr(model, "config", None), "final_logit_softcapping", None) or None


def logits_fp32(hidden: torch.Tensor, head: torch.nn.Module, softcap: float | None = None) -> torch.Tensor:
    """float32 logits of (n, H) hidden states: the head's product in the ambient precision, then
    float32, then soft-capping."""
    z = F.linear(hidden, head.weight, head.bias).float()
    if softcap:
        z = torch.tanh(z / softcap) * softcap
    return z


@torch.no_grad()
def target_stats(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor, softcap: float | None = None,
                 entropy: bool = False, budget: int = LOGIT_BUDGET) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(n,) float32 negative log-likelihood of each target, and (n,) predictive entropy when
    `entropy` (None otherwise), from the (n, H) hidden states of the positions that predict them."""
    n = hidden.shape[0]
    nll = torch.empty(n, dtype=torch.float32, device=hidden.device)
    ent = torch.empty(n, dtype=torch.float32, device=hidden.device) if entropy else None
    step = chunk_rows(head.weight.shape[0], budget)
    for s in range(0, n, step):
        logp = torch.log_softmax(logits_fp32(hidden[s:s + step], head, softcap), dim=-1)
        nll[s:s + step] = -logp.gather(-1, targets[s:s + step, None])[:, 0]
        if ent is not None:
            ent[s:s + step] = -(logp.exp() * logp).sum(-1)
        del logp
    return nll, ent


def cross_entropy_sum(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor,
                      softcap: float | None = None, budget: int = LOGIT_BUDGET) -> torch.Tensor:
    """Summed token cross-entropy of (n, H) hidden states against (n,) targets, differentiable in
    the hidden states and the head. One chunk: the plain computation; more: chunked, with the
    logits recomputed in the backward pass (memory O(chunk x V + V x H))."""
    if hidden.shape[0] * head.weight.shape[0] <= budget:
        return F.cross_entropy(logits_fp32(hidden, head, softcap), targets, reduction="sum")
    return _ChunkedCrossEntropy.apply(hidden, head.weight, head.bias, targets, softcap, int(budget))


def cross_entropy_terms(hidden: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor,
                        softcap: float | None = None, budget: int = LOGIT_BUDGET) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed token cross-entropy, differentiable; its (n,) per-target terms, detached) — the loss
    of a training step together with what each target contributed (ODM's reward reads them). One
    chunk: the terms of one cross-entropy and their sum; more: `cross_entropy_sum` and the terms from
    a no-grad pass of `target_stats` (one extra output-layer product per chunk)."""
    if hidden.shape[0] * head.weight.shape[0] <= budget:
        terms = F.cross_entropy(logits_fp32(hidden, head, softcap), targets, reduction="none")
        return terms.sum(), terms.detach()
    nll, _ = target_stats(hidden.detach(), head, targets, softcap, False, budget)
    return cross_entropy_sum(hidden, head, targets, softcap, budget), nll


def _compute_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype in force on this device (None when autocast is off)."""
    kind = device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None


def _chunk_logits(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, softcap: float | None,
                  dtype: torch.dtype | None) -> torch.Tensor:
    """Logits of one chunk as autocast computes them (inputs cast to its dtype), outside autocast."""
    if dtype is not None:
        h, weight = h.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    z = F.linear(h, weight, bias).float()
    if softcap:
        z = torch.tanh(z / softcap) * softcap
    return z


def _accumulate(total: torch.Tensor, part: torch.Tensor, budget: int = LOGIT_BUDGET) -> None:
    """total += part in place (the output layer's float32 gradient and one chunk's product in the
    compute dtype): 4 + 2 bytes per weight in bf16, never a float32 copy of the product. A CPU add of
    another dtype casts its input to a temporary first, so that is done `budget` elements at a time;
    each element is the same sum either way (bf16 -> float32 is exact)."""
    if part.dtype == total.dtype:
        total.add_(part)
        return
    rows = max(1, int(budget) // max(1, part.shape[-1]))
    for r in range(0, part.shape[0], rows):
        total[r:r + rows].add_(part[r:r + rows])


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Σ_i [logsumexp(z_i) - z_i[t_i]] with z = softcap(h W^T + b), chunk by chunk; the backward
    pass recomputes each chunk's z and applies d/dz = softmax(z) - onehot(t) (times 1 - (z/cap)^2
    under soft-capping)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, softcap, budget):  # noqa: D102
        dtype = _compute_dtype(hidden.device)
        step = chunk_rows(weight.shape[0], budget)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        with torch.autocast(hidden.device.type, enabled=False):
            for s in range(0, hidden.shape[0], step):
                z = _chunk_logits(hidden[s:s + step], weight, bias, softcap, dtype)
                total += (torch.logsumexp(z, dim=-1) - z.gather(-1, targets[s:s + step, None])[:, 0]).sum()
                del z
        ctx.save_for_backward(hidden, weight, bias, targets)
        ctx.softcap, ctx.step, ctx.dtype, ctx.budget = softcap, step, dtype, budget
        return total

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        hidden, weight, bias, targets = ctx.saved_tensors
        softcap, step, dtype, budget = ctx.softcap, ctx.step, ctx.dtype, ctx.budget
        want_h, want_w, want_b = ctx.needs_input_grad[:3]
        dh = torch.empty_like(hidden) if want_h else None
        dw = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        db = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device) if want_b else None
        mm = dtype or weight.dtype
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(mm)
            for s in range(0, hidden.shape[0], step):
                h = hidden[s:s + step]
                z = _chunk_logits(h, weight, bias, softcap, dtype)
                g = torch.softmax(z, dim=-1)
                g[torch.arange(len(h), device=g.device), targets[s:s + step]] -= 1.0
                if softcap:
                    g *= 1.0 - (z / softcap) ** 2
                del z
                g = (g * grad).to(mm)
                if dh is not None:
                    dh[s:s + step] = (g @ w).to(hidden.dtype)
                if dw is not None:
                    _accumulate(dw, g.T @ h.to(mm), budget)
                if db is not None:
                    db += g.float().sum(0)
                del g
        return (dh, None if dw is None else dw.to(weight.dtype), None if db is None else db.to(bias.dtype),
                None, None, None)
