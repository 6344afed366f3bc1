"""The read-only window a dynamic strategy gets on training (DESIGN: "Probe").

At an update, a strategy asks the probe for fresh mini-batches of any dataset and for what the
*current* model does on them: mean-pooled last-layer states (COSSIM), per-example perplexities
(DIFF, MultiUAT), gradients (MultiDDS), and the base model's perplexities from the cache written
by `python -m mos base-ppl`. The probe draws examples with its own seeded generator, identical
on every data-parallel rank, so every rank computes the same update. Nothing here changes the
model, the optimizer or the training sampler.

Memory scales with the data, not with positions x vocabulary (docs/memory.md): the output layer
sees only target positions, `logit_budget` logits at a time (mos.models.vocab); the entropy is
computed only when asked for; a forward pass takes at most `rows_per_forward` packed rows and a
gradient at most `grad_batch` examples per backward pass; gradients stay per parameter tensor on
the model's device (`gradients`), never one concatenated copy. Every forward runs under the
`autocast` the training forward uses, so the current model's perplexities are computed in the same
precision as θ0's (`numerics`, checked against the base_ppl file by `check_base_numerics`).

For the field's methods (baselines/doremi.py, odm.py, dynamixsft.py, aioli.py, hbo.py, regmix.py,
mixmin.py, msft.py) it also gives: per-token and per-example losses on the training targets, the
responses or every token, under the current model or another run's model (`run_model`: DoReMi's
reference, loaded once, lazily; `forget_model` drops one: RegMix's and MixMin's proxies); a dataset's
held-out token-mean loss (`validation_loss`: RegMix, mSFT); gradient norms (HBO); θ0's
instruction-following difficulty per example (`base_ifd`, HBO's buckets); a virtual optimizer step
(`lookahead`: losses before and after one step on a mini-batch, either plain SGD or the run's AdamW step
through the optimizer's current moments, parameters restored bit for bit and the optimizer's state only
read: DynamixSFT); the losses of the training batches drawn since the last update (`train_losses`,
recorded by the loop from its own forward passes: ODM); and the learning rate of the step the update
follows (`learning_rate`). The same memory bounds hold for all of them.

The optimizer (`optimizer`, given by the loop) is read, never stepped: only `lookahead(step="adam")`
looks at it, for each parameter its AdamW group (betas, eps, weight decay) and its state (step,
exp_avg, exp_avg_sq). A DeepSpeed ZeRO optimizer keeps its state in flat partitions, not per
parameter: there the Adam look-ahead stops with a message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mos.data.batching import IGNORE, pack
from mos.data.tokenized import TokenizedDataset
from mos.mixing.adam_lookahead import adam_settings, adam_step
from mos.mixing.base_scores import PPL_SCOPES, model_numerics, read_base_numerics, read_base_ppl
from mos.models.backbones import load_model
from mos.models.vocab import LOGIT_BUDGET, cross_entropy_sum, softcap_of, target_stats

LOOKAHEAD_STEPS = ("sgd", "adam")  # the virtual step of `lookahead`
LOSS_SCOPES = ("training", "response", "sequence")  # the training targets (per train.loss), responses, all
EXAMPLES_PER_PACK = 64  # examples packed together for one forward pass (split further by rows_per_forward)


class Probe:
    def __init__(self, model: torch.nn.Module, datasets: Mapping[str, TokenizedDataset], pad_id: int,
                 seed: int, device: torch.device | str = "cpu", pack_length: int = 512,
                 validation: Mapping[str, TokenizedDataset] | None = None, base_ppl: str | None = None,
                 autocast: Callable[[], AbstractContextManager] | None = None, logit_budget: int = LOGIT_BUDGET,
                 rows_per_forward: int | None = None, grad_batch: int | None = None, rank: int = 0,
                 world_size: int = 1, all_sum: Callable[[Sequence[float]], Sequence[float]] | None = None,
                 on_model_loaded: Callable[[torch.nn.Module], None] | None = None,
                 optimizer: torch.optim.Optimizer | None = None):
        self.model = model
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.softcap = softcap_of(model)
        self.datasets = dict(datasets)
        self.validation = dict(validation or {})
        self.pad_id, self.device, self.pack_length = pad_id, device, pack_length
        self.autocast = autocast or nullcontext          # the training forward's (accelerate's) autocast
        self.logit_budget = int(logit_budget)            # logits per output-layer chunk
        self.rows_per_forward = rows_per_forward         # packed rows per decoder pass (None: all)
        self.grad_batch = grad_batch or EXAMPLES_PER_PACK  # examples per backward pass of `gradients`
        self.rank, self.world_size = rank, world_size      # data-parallel position (sharded gradients)
        self._all_sum = all_sum                            # sums floats over the ranks (None: one process)
        self._owned: list[bool] | None = None
        self.generator = torch.Generator().manual_seed(seed * 7_919 + 104_729)  # same on every rank
        self.base_ppl_path = base_ppl
        self._base: dict[str, dict[str, dict[int, float]]] | None = None
        self._pools: dict[str, list[int]] = {}
        self._on_model_loaded = on_model_loaded           # told of every other run's model it loads
        self._models: dict[str, torch.nn.Module] = {}     # other runs' models, loaded on first use
        self._train_losses: dict[str, dict[str, float]] | None = None
        self.learning_rate: float | None = None           # set by the loop before each update
        self.optimizer = optimizer                        # the run's optimizer, read only (lookahead "adam")

    @property
    def names(self) -> list[str]:
        return list(self.datasets)

    # -- drawing examples --------------------------------------------------------------------
    def sample(self, dataset: str, n: int, split: str = "train", among: Sequence[int] | None = None) -> list[int]:
        """n distinct example indices (all of them if the pool is smaller)."""
        pool = len(self._split(split)[dataset]) if among is None else len(among)
        k = min(n, pool)
        pick = torch.randperm(pool, generator=self.generator)[:k].tolist()
        return pick if among is None else [int(among[i]) for i in pick]

    def _split(self, split: str) -> Mapping[str, TokenizedDataset]:
        if split == "train":
            return self.datasets
        if split == "validation":
            if not self.validation:
                raise RuntimeError("this run holds out no validation data (the strategy's validation_size is 0)")
            return self.validation
        raise ValueError(f"split must be train or validation, got {split!r}")

    @staticmethod
    def _masks(data: TokenizedDataset, indices: Sequence[int], scope: str) -> list[np.ndarray]:
        """Target masks of the examples: "training" (the run's loss mask), "sequence" (every token
        after the first) or "response" (assistant tokens)."""
        if scope == "training":
            return [data.mask[i] for i in indices]
        if scope == "response":
            if data.response is None:
                raise ValueError(f"dataset {data.name!r} has no response masks")
            return [data.response[i] for i in indices]
        return [np.arange(len(data.ids[i])) > 0 for i in indices]

    def _batches(self, data: TokenizedDataset, indices: Sequence[int], scope: str, per: int = EXAMPLES_PER_PACK):
        """Packed batches over the examples, `per` at a time, with the chosen targets as labels."""
        for start in range(0, len(indices), per):
            chunk = list(indices[start:start + per])
            yield chunk, pack([data.ids[i] for i in chunk], self._masks(data, chunk, scope), self.pack_length,
                              self.pad_id)

    def _hidden(self, batch) -> torch.Tensor:
        """Last-layer states of a packed batch, at most `rows_per_forward` rows per decoder pass."""
        ids, pos = batch.input_ids, batch.position_ids
        step = self.rows_per_forward or len(ids)
        parts = [self.decoder(input_ids=ids[s:s + step].to(self.device), position_ids=pos[s:s + step].to(self.device),
                              use_cache=False).last_hidden_state for s in range(0, len(ids), step)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    # -- what the current model does -----------------------------------------------------------
    @torch.no_grad()
    def embeddings(self, dataset: str, indices: Sequence[int], split: str = "train") -> torch.Tensor:
        """(n, hidden) mean over all tokens of each example's last-layer states (COSSIM, Eq. 7)."""
        data = self._split(split)[dataset]
        out = []
        for _, batch in self._batches(data, indices, "sequence"):
            with self.autocast():
                hidden = self._hidden(batch)
            out += [hidden[r, a:b].double().mean(dim=0).cpu() for r, a, b in batch.spans]
        return torch.stack(out)

    @torch.no_grad()
    def scope_stats(self, dataset: str, indices: Sequence[int], scopes: Sequence[str] = PPL_SCOPES,
                    split: str = "train", entropy: bool = False) -> dict[str, dict[str, torch.Tensor]]:
        """token_stats for several scopes from ONE forward pass per batch: {scope: {"nll", "count"
        (, "entropy")}}. The output layer runs once per target of any scope."""
        bad = [s for s in scopes if s not in PPL_SCOPES]
        if bad or not scopes:
            raise ValueError(f"scopes must be among {PPL_SCOPES}, got {list(scopes)!r}")
        data = self._split(split)[dataset]
        out = {s: {"nll": [], "count": [], "entropy": []} for s in scopes}
        for start in range(0, len(indices), EXAMPLES_PER_PACK):
            chunk = list(indices[start:start + EXAMPLES_PER_PACK])
            ids = [data.ids[i] for i in chunk]
            masks = {s: self._masks(data, chunk, s) for s in scopes}
            union = [np.logical_or.reduce([masks[s][k] for s in scopes]) for k in range(len(chunk))]
            batch = pack(ids, union, self.pack_length, self.pad_id)
            keep = (batch.labels[:, 1:] != IGNORE).to(self.device)
            targets = batch.labels[:, 1:].to(self.device)[keep]
            with self.autocast():
                hidden = self._hidden(batch)[:, :-1][keep]
                nll, ent = target_stats(hidden, self.head, targets, self.softcap, entropy, self.logit_budget)
            del hidden
            tok_nll = torch.zeros(keep.shape, dtype=torch.float32, device=self.device)
            tok_nll[keep] = nll
            if entropy:
                tok_ent = torch.zeros(keep.shape, dtype=torch.float32, device=self.device)
                tok_ent[keep] = ent
            for s in scopes:
                scope_keep = (pack(ids, masks[s], self.pack_length, self.pad_id).labels[:, 1:] != IGNORE).to(self.device)
                for r, a, b in batch.spans:  # targets of positions a+1..b-1 sit at a..b-2 after the shift
                    k = scope_keep[r, a:b - 1]
                    out[s]["nll"].append(tok_nll[r, a:b - 1][k].sum().double().cpu())
                    if entropy:
                        out[s]["entropy"].append(tok_ent[r, a:b - 1][k].sum().double().cpu())
                    out[s]["count"].append(int(k.sum()))
        result = {}
        for s in scopes:
            result[s] = {"nll": torch.stack(out[s]["nll"]), "count": torch.tensor(out[s]["count"])}
            if entropy:
                result[s]["entropy"] = torch.stack(out[s]["entropy"])
        return result

    def token_stats(self, dataset: str, indices: Sequence[int], scope: str = "sequence",
                    split: str = "train", entropy: bool = False) -> dict[str, torch.Tensor]:
        """Per example: summed target NLL, summed predictive entropy (only with entropy=True: a pass
        over the whole vocabulary that DIFF never reads), number of targets.
        scope: "sequence" (every token after the first: the code's PPL) or "response" (Eq. 9)."""
        if scope not in PPL_SCOPES:
            raise ValueError(f"scope must be one of {PPL_SCOPES}, got {scope!r}")
        return self.scope_stats(dataset, indices, (scope,), split, entropy)[scope]

    def perplexities(self, dataset: str, indices: Sequence[int], scope: str = "sequence",
                     split: str = "train") -> torch.Tensor:
        stats = self.token_stats(dataset, indices, scope, split, entropy=False)
        return torch.exp(stats["nll"] / stats["count"].clamp(min=1))

    def parameters(self, shard: bool = False) -> list[torch.nn.Parameter]:
        """The trainable parameters, or with `shard` this rank's share of them: whole tensors dealt
        largest first to the least loaded rank, the same split on every rank (all of them on one
        process)."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not shard or self.world_size == 1:
            return params
        if self._owned is None:
            load, owner = [0] * self.world_size, [0] * len(params)
            for k in sorted(range(len(params)), key=lambda k: (-params[k].numel(), k)):
                owner[k] = min(range(self.world_size), key=lambda r: (load[r], r))
                load[owner[k]] += params[k].numel()
            self._owned = [o == self.rank for o in owner]
        return [p for p, own in zip(params, self._owned, strict=True) if own]

    def all_sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums of `values` over the data-parallel ranks (the values on one process)."""
        return list(values) if self._all_sum is None or self.world_size == 1 else list(self._all_sum(values))

    def gradients(self, dataset: str, indices: Sequence[int], split: str = "train",
                  shard: bool = False) -> list[torch.Tensor]:
        """Gradient of the mean training loss over the examples, one tensor per trainable parameter
        (in `model.parameters()` order, on the model's device; zeros where a parameter gets none).
        With `shard`, only of this rank's `parameters(shard=True)`: every rank runs the same
        backward pass but keeps 1/world_size of the gradient (combine with `all_sum`).
        `grad_batch` examples per backward pass; `.grad` is untouched."""
        data = self._split(split)[dataset]
        params = self.parameters(shard)
        total: list[torch.Tensor | None] = [None] * len(params)
        n_targets = sum(int(data.mask[i].sum()) for i in indices)
        # transformers checkpoints layers only in train mode: with the run's gradient checkpointing on
        # (and no dropout, so both modes compute the same) the backward recomputes them here too
        was_training = self.decoder.training
        if not was_training and self._checkpointing_without_dropout():
            self.decoder.train()
        try:
            for _, batch in self._batches(data, indices, "training", per=self.grad_batch):
                targets = batch.labels[:, 1:].to(self.device)
                keep = targets != IGNORE
                with self.autocast():
                    hidden = self._hidden(batch)
                    loss = cross_entropy_sum(hidden[:, :-1][keep], self.head, targets[keep], self.softcap,
                                             self.logit_budget)
                grads = torch.autograd.grad(loss / max(1, n_targets), params, allow_unused=True)
                del hidden, loss
                for k, g in enumerate(grads):
                    if g is not None:
                        total[k] = g if total[k] is None else total[k].add_(g)
        finally:
            self.decoder.train(was_training)
        return [torch.zeros_like(p) if t is None else t for p, t in zip(params, total, strict=True)]

    def _checkpointing_without_dropout(self) -> bool:
        modules = list(self.model.modules())
        checkpointing = any(getattr(m, "gradient_checkpointing", False) is True for m in modules)
        config = getattr(self.model, "config", None)
        rates = [getattr(config, k, 0.0) or 0.0 for k in ("attention_dropout", "hidden_dropout", "dropout")]
        rates += [m.p for m in modules if isinstance(m, torch.nn.Dropout)]
        return checkpointing and not any(rates)

    def gradient(self, dataset: str, indices: Sequence[int], split: str = "train") -> torch.Tensor:
        """The gradient of `gradients` as one flat float64 CPU vector: 8 bytes per parameter, for
        small models and tests only (MultiDDS streams per-tensor dot products instead)."""
        return torch.cat([t.flatten() for t in self.gradients(dataset, indices, split)]).double().cpu()

    # -- losses, gradient norms and a virtual step (the field's methods) -------------------------
    @staticmethod
    def _owners(batch) -> torch.Tensor:
        """For every target position of a packed batch (row-major), the index of its example."""
        owner = torch.full(batch.labels.shape, -1, dtype=torch.long)
        for e, (r, a, b) in enumerate(batch.spans):
            owner[r, a:b] = e
        return owner[:, 1:][batch.labels[:, 1:] != IGNORE]

    def _loss_batches(self, data: TokenizedDataset, indices: Sequence[int], scope: str, per: int = EXAMPLES_PER_PACK):
        if scope not in LOSS_SCOPES:
            raise ValueError(f"scope must be one of {LOSS_SCOPES}, got {scope!r}")
        return self._batches(data, indices, scope, per)

    def _targets(self, model: torch.nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden states of the positions that predict a target, those targets) of a packed batch."""
        targets = batch.labels[:, 1:].to(self.device)
        keep = targets != IGNORE
        if model is self.model:
            hidden = self._hidden(batch)
        else:
            hidden = model.get_decoder()(input_ids=batch.input_ids.to(self.device),
                                         position_ids=batch.position_ids.to(self.device), use_cache=False).last_hidden_state
        return hidden[:, :-1][keep], targets[keep]

    @torch.no_grad()
    def token_losses(self, dataset: str, indices: Sequence[int], split: str = "train", scope: str = "training",
                     model: torch.nn.Module | None = None) -> list[torch.Tensor]:
        """Per example, the NLL of each of its target tokens (float32, CPU) under the current model or
        `model` (e.g. `run_model(folder)`). scope: "training" (the targets the run trains on),
        "response" (assistant tokens) or "sequence" (every token after the first)."""
        data, model = self._split(split)[dataset], self.model if model is None else model
        out: list[torch.Tensor] = []
        for chunk, batch in self._loss_batches(data, indices, scope):
            with self.autocast():
                hidden, targets = self._targets(model, batch)
                nll, _ = target_stats(hidden, model.get_output_embeddings(), targets, softcap_of(model), False,
                                      self.logit_budget)
            nll, owner = nll.cpu(), self._owners(batch)
            out += [nll[owner == e] for e in range(len(chunk))]
        return out

    def example_losses(self, dataset: str, indices: Sequence[int], split: str = "train", scope: str = "training",
                       model: torch.nn.Module | None = None) -> torch.Tensor:
        """Per example, its mean token loss (float64); an example without targets counts 0."""
        return torch.stack([t.double().sum() / max(1, t.numel())
                            for t in self.token_losses(dataset, indices, split, scope, model)])

    def validation_loss(self, dataset: str, scope: str = "training", model: torch.nn.Module | None = None) -> float:
        """The token mean of the loss over every held-out example of a dataset (split "validation", in
        index order), under the current model or `model` (RegMix's proxies, mSFT's overfitting check)."""
        losses = self.token_losses(dataset, range(len(self._split("validation")[dataset])), "validation", scope, model)
        tokens = sum(t.numel() for t in losses)
        if not tokens:
            raise ValueError(f"dataset {dataset!r}: its held-out examples have no {scope} targets")
        return float(sum(t.double().sum() for t in losses)) / tokens

    def _grad_of_mean_loss(self, data: TokenizedDataset, indices: Sequence[int], scope: str,
                           params: list[torch.nn.Parameter]) -> list[torch.Tensor | None]:
        """Gradient of the mean token loss over the examples, `grad_batch` examples per backward pass."""
        n_targets = sum(int(m.sum()) for m in self._masks(data, indices, scope))
        total: list[torch.Tensor | None] = [None] * len(params)
        for _, batch in self._loss_batches(data, indices, scope, per=self.grad_batch):
            with self.autocast():
                hidden, targets = self._targets(self.model, batch)
                loss = cross_entropy_sum(hidden, self.head, targets, self.softcap, self.logit_budget)
            grads = torch.autograd.grad(loss / max(1, n_targets), params, allow_unused=True)
            del hidden, loss
            for k, g in enumerate(grads):
                if g is not None:
                    total[k] = g if total[k] is None else total[k].add_(g)
        return total

    def gradient_norms(self, dataset: str, indices: Sequence[int], split: str = "train",
                       scope: str = "training") -> torch.Tensor:
        """Per example, the L2 norm of the gradient of its mean token loss (float64; HBO's reward),
        summed tensor by tensor, never concatenated; .grad untouched."""
        data = self._split(split)[dataset]
        params = [p for p in self.model.parameters() if p.requires_grad]
        norms = []
        for i in indices:
            grads = self._grad_of_mean_loss(data, [i], scope, params)
            norms.append(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)).cpu())
        return torch.stack(norms)

    def lookahead(self, dataset: str, indices: Sequence[int], lr: float, scope: str = "training",
                  step: str = "sgd") -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example mean token losses before and after one virtual step on the mean token loss L of
        these examples (DynamixSFT's look-ahead), g = ∇L(θ):

            step="sgd"   θ' = θ − lr g
            step="adam"  the run's AdamW step from the optimizer's current state: m' = β1 m + (1−β1) g,
                         v' = β2 v + (1−β2) g², t' = t + 1, θ' = θ (1 − lr λ) − lr m'/(1−β1^t') /
                         (sqrt(v'/(1−β2^t')) + ε), with each parameter's group's β1, β2, ε, λ (weight
                         decay) as torch.optim.AdamW computes it; parameters that get no gradient are
                         left as AdamW leaves them (unchanged); the gradient is not clipped

        The parameters are copied before and restored after, bit for bit; the optimizer's state is
        read, never written; .grad and the sampler are untouched."""
        if step not in LOOKAHEAD_STEPS:
            raise ValueError(f"step must be one of {LOOKAHEAD_STEPS}, got {step!r}")
        data = self._split("train")[dataset]
        params = [p for p in self.model.parameters() if p.requires_grad]
        adam = self._adam_settings(params) if step == "adam" else None
        pre = self.example_losses(dataset, indices, "train", scope)
        grads = self._grad_of_mean_loss(data, indices, scope, params)
        saved: list[torch.Tensor] = []  # each tensor copied just before it moves, its gradient freed after:
        try:                            # the copy and the gradient together stay one model's size
            with torch.no_grad():
                for k, p in enumerate(params):
                    saved.append(p.detach().clone())
                    g = grads[k]
                    if g is None:
                        continue
                    if adam is None:
                        p.sub_(lr * g)
                    else:
                        p.copy_(adam_step(p, g, lr, *adam[k]))
                    grads[k] = None
            post = self.example_losses(dataset, indices, "train", scope)
        finally:
            with torch.no_grad():
                for p, s in zip(params, saved, strict=False):  # those moved before any error
                    p.copy_(s)
        return pre, post

    def _adam_settings(self, params: Sequence[torch.nn.Parameter]) -> list[tuple]:
        return adam_settings(self.optimizer, params)

    # -- other runs and the training batches ----------------------------------------------------
    def run_model(self, folder: str | Path) -> torch.nn.Module:
        """The fine-tuned model of a finished run (`<folder>/model`), loaded once, in eval mode, on
        this device and in the current model's dtype (DoReMi's reference model)."""
        key = str(folder)
        if key not in self._models:
            path = Path(folder) / "model"
            if not (path / "config.json").exists():
                raise FileNotFoundError(f"{path}: no model; is {folder} a finished run?")
            dtype = next(self.model.parameters()).dtype  # loaded in it: no float32 copy in host memory
            model = load_model(str(path), dtype=dtype).to(device=self.device, dtype=dtype)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._models[key] = model
            if self._on_model_loaded is not None:
                self._on_model_loaded(model)
        return self._models[key]

    def forget_model(self, folder: str | Path) -> None:
        """Drop a run's model that `run_model` loaded (a strategy reading many runs, one at a time:
        RegMix's proxies), so that at most one of them is held at once."""
        self._models.pop(str(folder), None)

    def set_train_losses(self, stats: Mapping[str, Mapping[str, float]] | None) -> None:
        """Called by the loop before an update of a strategy with `needs_train_losses`."""
        self._train_losses = None if stats is None else {n: dict(v) for n, v in stats.items()}

    def train_losses(self) -> dict[str, dict[str, float]]:
        """{dataset: {"loss_sum", "tokens", "examples"}} of the training batches drawn since the last
        update (all ranks): summed token losses as trained on (the batch's own forward pass, no extra
        computation), target tokens and examples. Only for strategies with `needs_train_losses`."""
        if self._train_losses is None:
            raise RuntimeError("the loop records training losses only for strategies with needs_train_losses = True")
        return {n: dict(v) for n, v in self._train_losses.items()}

    # -- precision ------------------------------------------------------------------------------
    def numerics(self) -> dict[str, str]:
        """The precision the probe's forward passes run in (weights dtype, autocast dtype)."""
        return model_numerics(self.model, self.device, self.autocast)

    def check_base_numerics(self) -> None:
        """DIFF divides the current model's perplexity by θ0's: both must be computed in the same
        precision, or the ratio is biased before any training (REVIEW M6). Raises when the base_ppl
        file records another precision than this probe's; files without the record pass."""
        recorded = read_base_numerics(self.base_ppl_path) if self.base_ppl_path else None
        if recorded is not None and recorded != self.numerics():
            raise ValueError(
                f"{self.base_ppl_path}: θ0's perplexities were computed with {recorded['weights']} weights "
                f"under autocast {recorded['autocast']}, but this run's probe computes with {self.numerics()['weights']} "
                f"weights under autocast {self.numerics()['autocast']}: DIFF's ratio would be biased. Recompute "
                "them with the run's precision (base_ppl spec 'precision' and 'weights'; config base_ppl.weights: "
                "bfloat16 for DeepSpeed bf16 runs, float32 otherwise)")

    # -- the base model -------------------------------------------------------------------------
    def base_pool(self, dataset: str) -> list[int]:
        """Indices of the examples whose base-model perplexity is cached (the probe pool)."""
        if dataset not in self._pools:  # sorted once, not at every update
            self._pools[dataset] = sorted(self._base_cache()[dataset]["sequence"])
        return list(self._pools[dataset])

    def base_ifd(self, dataset: str, indices: Sequence[int]) -> torch.Tensor:
        """θ0's instruction-following difficulty of the examples (mos.training.base_ppl: mean response
        loss after the prompt over the mean response loss after the assistant header alone)."""
        cache = self._base_cache()[dataset].get("ifd")
        if cache is None:
            raise KeyError(f"{self.base_ppl_path}: no 'ifd' column; recompute it with `python -m mos base-ppl`")
        missing = [i for i in indices if i not in cache]
        if missing:
            raise KeyError(f"{self.base_ppl_path}: no IFD for {dataset} examples {missing[:5]}")
        return torch.tensor([cache[i] for i in indices], dtype=torch.float64)

    def base_perplexities(self, dataset: str, indices: Sequence[int], scope: str = "sequence") -> torch.Tensor:
        cache = self._base_cache()[dataset][scope]
        missing = [i for i in indices if i not in cache]
        if missing:
            raise KeyError(f"{self.base_ppl_path}: no base perplexity for {dataset} examples {missing[:5]}")
        return torch.tensor([cache[i] for i in indices], dtype=torch.float64)

    def _base_cache(self) -> dict[str, dict[str, dict[int, float]]]:
        if self._base is None:
            if not self.base_ppl_path:
                raise RuntimeError("this strategy needs base-model perplexities: the job spec has no 'base_ppl' "
                                   "(the workflow adds it for strategies whose needs_base_ppl is true)")
            self._base = read_base_ppl(self.base_ppl_path)
        return self._base

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            self.generator.set_state(state["generator"])
