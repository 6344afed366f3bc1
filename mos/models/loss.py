"""The training loss of a causal LM on packed batches: summed next-token cross-entropy over the target
positions only, through the output layer in bounded chunks (mos.models.vocab).

    loss = CausalLMLoss(model)(batch.input_ids, batch.position_ids, batch.labels) / batch.n_targets

Only positions that carry a loss go through the output layer: with response-only loss most prompt
positions are skipped, which saves the largest matrix product of a small-vocabulary model. Above
`logit_budget` logits the output layer runs in chunks whose logits are recomputed in the backward pass,
so a micro-batch of 16K tokens never holds 16K x V float32 logits. Wrapping the model (rather than
calling its submodules from outside) keeps data-parallel gradient sync intact.
"""

from __future__ import annotations

import torch

from mos.data.batching import IGNORE
from mos.models.vocab import LOGIT_BUDGET, cross_entropy_sum, cross_entropy_terms, softcap_of


class CausalLMLoss(torch.nn.Module):
    """Wraps a causal LM so that forward returns the summed next-token loss of a packed batch."""

    def __init__(self, model: torch.nn.Module, logit_budget: int = LOGIT_BUDGET):
        super().__init__()
        self.model = model
        self.config = model.config  # DeepSpeed sizes 'auto' buckets from config.hidden_size
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.softcap = softcap_of(model)
        self.logit_budget = logit_budget

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, labels: torch.Tensor,
                per_token: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The summed loss; with per_token=True also the detached per-target losses (row-major over
        the target positions), of which the summed loss is then the sum."""
        hidden = self.decoder(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != IGNORE
        if per_token:
            return cross_entropy_terms(hidden[:, :-1][keep], self.head, targets[keep], self.softcap, self.logit_budget)
        return cross_entropy_sum(hidden[:, :-1][keep], self.head, targets[keep], self.softcap, self.logit_budget)
