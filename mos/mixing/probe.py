"""The read-only window a dynamic strategy gets on training (DESIGN: "Probe").

At an update, a strategy asks the probe for fresh mini-batches of any dataset and for what the
*current* model does on them: mean-pooled last-layer states (COSSIM), per-example perplexities
(DIFF, MultiUAT), gradients (MultiDDS), and the base model's perplexities from the cache written
by `python -m mos base-ppl`. The probe draws examples with its own seeded generator, identical
on every data-parallel rank, so every rank computes the same update. Nothing here changes the
model, the optimizer or the training sampler.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mos.data.batching import IGNORE, pack
from mos.data.tokenized import TokenizedDataset

PPL_SCOPES = ("sequence", "response")


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
