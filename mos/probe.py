"""The read-only window a dynamic strategy gets on training (DESIGN: "Probe").

At an update, a strategy asks the probe for fresh mini-batches of any dataset and for what the
*current* model does on them: mean-pooled last-layer states (COSSIM), per-example perplexities
(DIFF, MultiUAT), gradients (MultiDDS), and the base model's perplexities from the cache written
by `python -m mos.base_ppl`. The probe draws examples with its own seeded generator, identical
on every data-parallel rank, so every rank computes the same update. Nothing here changes the
model, the optimizer or the training sampler.

For the field's methods (baselines/doremi.py, odm.py, dynamixsft.py, aioli.py, hbo.py) it also
gives: per-token and per-example losses on the training targets or the responses, under the
current model or another run's model (`run_model`: DoReMi's reference, loaded once, lazily);
gradient norms (HBO); a virtual optimizer step (`lookahead`: loss before and after one SGD step
on a mini-batch, parameters restored bit for bit: DynamixSFT); the losses of the training batches
drawn since the last update (`train_losses`, recorded by the loop without extra passes: ODM); and
the learning rate of the step the update follows (`learning_rate`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from mos.batching import IGNORE, pack
from mos.data import TokenizedDataset

if TYPE_CHECKING:
    from mos.train import Run

PPL_SCOPES = ("sequence", "response")
LOSS_SCOPES = ("training", "response", "sequence")  # the training targets (per train.loss), responses, all


def read_base_ppl(path: str | Path) -> dict[str, dict[str, dict[int, float]]]:
    """{dataset: {scope: {example index: base perplexity}}} from a base_ppl CSV."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            d = out.setdefault(row["dataset"], {s: {} for s in PPL_SCOPES})
            for scope in PPL_SCOPES:
                d[scope][int(row["index"])] = float(row[f"ppl_{scope}"])
    return out


class Probe:
    def __init__(self, model: torch.nn.Module, datasets: Mapping[str, TokenizedDataset], pad_id: int,
                 seed: int, device: torch.device | str = "cpu", pack_length: int = 512,
                 validation: Mapping[str, TokenizedDataset] | None = None, base_ppl: str | None = None):
        self.model = model
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.datasets = dict(datasets)
        self.validation = dict(validation or {})
        self.pad_id, self.device, self.pack_length = pad_id, device, pack_length
        self.generator = torch.Generator().manual_seed(seed * 7_919 + 104_729)  # same on every rank
        self.base_ppl_path = base_ppl
        self._base: dict[str, dict[str, dict[int, float]]] | None = None
        self._pools: dict[str, list[int]] = {}
        self._models: dict[str, torch.nn.Module] = {}   # other runs' models, loaded on first use
        self._train_losses: dict[str, dict[str, float]] | None = None
        self.learning_rate: float | None = None          # set by the loop before each update

    @classmethod
    def from_run(cls, run: Run) -> Probe:
        return cls(run.hf_model, run.datasets, run.tokenizer.pad_token_id, run.seed, run.acc.device,
                   run.settings.pack_length, run.validation, run.spec.get("base_ppl"))

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

    def _batches(self, data: TokenizedDataset, indices: Sequence[int], scope: str):
        """Packed batches over the examples, with the chosen targets as labels."""
        masks = data.mask if scope == "training" else (data.response if scope == "response" else None)
        for start in range(0, len(indices), 64):
            chunk = list(indices[start:start + 64])
            ids = [data.ids[i] for i in chunk]
            m = [np.arange(len(x)) > 0 for x in ids] if masks is None else [masks[i] for i in chunk]
            yield chunk, pack(ids, m, self.pack_length, self.pad_id)

    def _hidden(self, batch) -> torch.Tensor:
        return self.decoder(input_ids=batch.input_ids.to(self.device), position_ids=batch.position_ids.to(self.device),
                            use_cache=False).last_hidden_state

    # -- what the current model does -----------------------------------------------------------
    @torch.no_grad()
    def embeddings(self, dataset: str, indices: Sequence[int], split: str = "train") -> torch.Tensor:
        """(n, hidden) mean over all tokens of each example's last-layer states (COSSIM, Eq. 7)."""
        data = self._split(split)[dataset]
        out = []
        for _, batch in self._batches(data, indices, "sequence"):
            hidden = self._hidden(batch).double()
            out += [hidden[r, a:b].mean(dim=0).cpu() for r, a, b in batch.spans]
        return torch.stack(out)

    @torch.no_grad()
    def token_stats(self, dataset: str, indices: Sequence[int], scope: str = "sequence",
                    split: str = "train", entropy: bool = True) -> dict[str, torch.Tensor]:
        """Per example: summed target NLL, summed predictive entropy, number of targets.
        scope: "sequence" (every token after the first: the code's PPL) or "response" (Eq. 9).
        entropy=False leaves the entropy out (a pass over the whole vocabulary that DIFF never reads)."""
        if scope not in PPL_SCOPES:
            raise ValueError(f"scope must be one of {PPL_SCOPES}, got {scope!r}")
        data = self._split(split)[dataset]
        nll, ent, count = [], [], []
        for _, batch in self._batches(data, indices, scope):
            hidden = self._hidden(batch)
            logits = self.head(hidden[:, :-1]).float()
            targets = batch.labels[:, 1:].to(self.device)
            logp = torch.log_softmax(logits, dim=-1)
            tok_nll = -logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
            tok_ent = -(logp.exp() * logp).sum(-1) if entropy else None
            keep = targets != IGNORE
            for r, a, b in batch.spans:  # targets of positions a+1..b-1 sit at a..b-2 after the shift
                k = keep[r, a:b - 1]
                nll.append(tok_nll[r, a:b - 1][k].sum().double().cpu())
                if entropy:
                    ent.append(tok_ent[r, a:b - 1][k].sum().double().cpu())
                count.append(int(k.sum()))
        out = {"nll": torch.stack(nll), "count": torch.tensor(count)}
        if entropy:
            out["entropy"] = torch.stack(ent)
        return out

    def perplexities(self, dataset: str, indices: Sequence[int], scope: str = "sequence",
                     split: str = "train") -> torch.Tensor:
        stats = self.token_stats(dataset, indices, scope, split, entropy=False)
        return torch.exp(stats["nll"] / stats["count"].clamp(min=1))

    def gradient(self, dataset: str, indices: Sequence[int], split: str = "train") -> torch.Tensor:
        """Flat gradient of the mean training loss over the examples (MultiDDS); .grad untouched."""
        data = self._split(split)[dataset]
        params = [p for p in self.model.parameters() if p.requires_grad]
        total = [torch.zeros_like(p) for p in params]
        n_targets = sum(int(data.mask[i].sum()) for i in indices)
        for _, batch in self._batches(data, indices, "training"):
            hidden = self._hidden(batch)
            targets = batch.labels[:, 1:].to(self.device)
            keep = targets != IGNORE
            loss = F.cross_entropy(self.head(hidden[:, :-1][keep]).float(), targets[keep], reduction="sum")
            grads = torch.autograd.grad(loss / max(1, n_targets), params, allow_unused=True)
            for t, g in zip(total, grads, strict=True):
                if g is not None:
                    t += g
        return torch.cat([t.flatten() for t in total]).double().cpu()

    # -- losses, gradient norms and a virtual step (the field's methods) -------------------------
    def _token_nll(self, model: torch.nn.Module, batch) -> torch.Tensor:
        """Per-token NLL (float32) of the target positions of a packed batch, row-major; only target
        positions go through the output layer (the training loss's memory footprint)."""
        hidden = model.get_decoder()(input_ids=batch.input_ids.to(self.device),
                                     position_ids=batch.position_ids.to(self.device), use_cache=False).last_hidden_state
        targets = batch.labels[:, 1:].to(self.device)
        keep = targets != IGNORE
        logits = model.get_output_embeddings()(hidden[:, :-1][keep])
        softcap = getattr(model.config, "final_logit_softcapping", None)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        return F.cross_entropy(logits.float(), targets[keep], reduction="none")

    @staticmethod
    def _owners(batch) -> torch.Tensor:
        """For every target position of `_token_nll`'s output, the index of its example in the chunk."""
        owner = torch.full(batch.labels.shape, -1, dtype=torch.long)
        for e, (r, a, b) in enumerate(batch.spans):
            owner[r, a:b] = e
        return owner[:, 1:][batch.labels[:, 1:] != IGNORE]

    def _loss_batches(self, data: TokenizedDataset, indices: Sequence[int], scope: str):
        if scope not in LOSS_SCOPES:
            raise ValueError(f"scope must be one of {LOSS_SCOPES}, got {scope!r}")
        return self._batches(data, indices, scope)

    @torch.no_grad()
    def token_losses(self, dataset: str, indices: Sequence[int], split: str = "train", scope: str = "training",
                     model: torch.nn.Module | None = None) -> list[torch.Tensor]:
        """Per example, the NLL of each of its target tokens (float32, CPU) under the current model or
        `model` (e.g. `run_model(folder)`). scope: "training" (the targets the run trains on),
        "response" (assistant tokens) or "sequence" (every token after the first)."""
        data, model = self._split(split)[dataset], model if model is not None else self.model
        out: list[torch.Tensor] = []
        for chunk, batch in self._loss_batches(data, indices, scope):
            nll, owner = self._token_nll(model, batch).cpu(), self._owners(batch)
            out += [nll[owner == e] for e in range(len(chunk))]
        return out

    def example_losses(self, dataset: str, indices: Sequence[int], split: str = "train", scope: str = "training",
                       model: torch.nn.Module | None = None) -> torch.Tensor:
        """Per example, its mean token loss (float64); an example without targets counts 0."""
        return torch.stack([t.double().sum() / max(1, t.numel())
                            for t in self.token_losses(dataset, indices, split, scope, model)])

    def gradient_norms(self, dataset: str, indices: Sequence[int], split: str = "train",
                       scope: str = "training") -> torch.Tensor:
        """Per example, the L2 norm of the gradient of its mean token loss (float64; HBO's reward),
        summed tensor by tensor, never concatenated; .grad untouched."""
        data = self._split(split)[dataset]
        params = [p for p in self.model.parameters() if p.requires_grad]
        norms = []
        for i in indices:
            for _, batch in self._loss_batches(data, [i], scope):
                nll = self._token_nll(self.model, batch)
                grads = torch.autograd.grad(nll.sum() / max(1, nll.numel()), params, allow_unused=True)
                norms.append(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)).cpu())
        return torch.stack(norms)

    def lookahead(self, dataset: str, indices: Sequence[int], lr: float,
                  scope: str = "training") -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example mean token losses before and after one virtual SGD step θ' = θ - lr ∇L(θ) on
        the mean token loss L of these examples (DynamixSFT's look-ahead). The parameters are copied
        before and restored after, bit for bit; the optimizer, .grad and the sampler are untouched."""
        data = self._split(split="train")[dataset]
        params = [p for p in self.model.parameters() if p.requires_grad]
        n_targets = sum(int(self._mask_of(data, scope)[i].sum()) for i in indices)
        total = [torch.zeros_like(p) for p in params]
        pre: list[torch.Tensor] = []
        for chunk, batch in self._loss_batches(data, indices, scope):
            nll = self._token_nll(self.model, batch)
            owner = self._owners(batch).to(nll.device)
            pre += [nll[owner == e].detach().double().sum().cpu() / max(1, int((owner == e).sum()))
                    for e in range(len(chunk))]
            for t, g in zip(total, torch.autograd.grad(nll.sum() / max(1, n_targets), params, allow_unused=True),
                            strict=True):
                if g is not None:
                    t += g
        saved = [p.detach().clone() for p in params]
        try:
            with torch.no_grad():
                for p, g in zip(params, total, strict=True):
                    p.sub_(lr * g)
            post = self.example_losses(dataset, indices, "train", scope)
        finally:
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
        return torch.stack(pre), post

    @staticmethod
    def _mask_of(data: TokenizedDataset, scope: str) -> list[np.ndarray]:
        if scope == "training":
            return data.mask
        if scope == "response":
            return data.response
        return [np.arange(len(x)) > 0 for x in data.ids]

    # -- other runs and the training batches ----------------------------------------------------
    def run_model(self, folder: str | Path) -> torch.nn.Module:
        """The fine-tuned model of a finished run (`<folder>/model`), loaded once, in eval mode, on
        this device and in the current model's dtype (DoReMi's reference model)."""
        key = str(folder)
        if key not in self._models:
            from mos.backbones import load_model

            path = Path(folder) / "model"
            if not (path / "config.json").exists():
                raise FileNotFoundError(f"{path}: no model; is {folder} a finished run?")
            dtype = next(self.model.parameters()).dtype
            model = load_model(str(path), dtype=dtype).to(self.device).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            self._models[key] = model
        return self._models[key]

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

    # -- the base model -------------------------------------------------------------------------
    def base_pool(self, dataset: str) -> list[int]:
        """Indices of the examples whose base-model perplexity is cached (the probe pool)."""
        if dataset not in self._pools:  # sorted once, not at every update
            self._pools[dataset] = sorted(self._base_cache()[dataset]["sequence"])
        return list(self._pools[dataset])

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
