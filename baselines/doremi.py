"""DoReMi (Xie et al., NeurIPS 2023, arXiv 2305.10429, §2 and Algorithm 1): domain weights moved by
exponentiated gradient toward the datasets where the current model's loss most exceeds a
reference model's.

The reference model is a finished run of the same backbone and seed, a dependency in the workflow's
DAG: the job spec gets its folder under `runs.reference` and the probe loads its model once. At every
update, for each dataset i, a fresh probe mini-batch B_i of `examples` examples gives the per-domain
excess loss on response tokens:

    λ_i = (1 / Σ_{x∈B_i} |x|) Σ_{x∈B_i} Σ_j max(ℓ_θ,j(x) - ℓ_ref,j(x), 0)
    α' = α ⊙ exp(η λ),   α ← (1 - c) α' / Σ α' + c / k         (η = 1, c = 1e-3; α_0 uniform)

Which examples. The released code (sangmichaelxie/doremi at 7cde52d, doremi/trainer.py:246-303)
measures λ on the proxy's own training batch, in pretraining on the Pile where each example is seen
about once by either model: λ is learnability, not memory. Our testbed repeats examples (the UNI.
reference saw Medicine ~4.6 times per example, NLP ~0.4 times), so λ on training examples mixes the
reference's memorisation with learnability. The faithful analogue is λ on examples NEITHER model
trained on: `split: validation` (default) draws B_i from `validation_size` examples held out of
every dataset, and the reference must be a run that held out the same examples (the loop's split is
fixed per dataset and size): the default reference `uniform_heldout` is UNI. with the same
`validation_size` (strategy `temperature_heldout`, baselines/temperature.py; config/config.yaml). The first update checks the reference's run.json
(`validation_sizes`) and stops otherwise. `split: train` with `reference: uniform` and
`validation_size: 0` is the earlier variant (`doremi_train`). report() gives, per dataset, the
reference's epochs (examples it drew / its training examples) beside the mean and last λ.

The reference run is `temperature_heldout` (baselines/temperature.py: static q_τ, UNI. at τ = ∞,
holding out `validation_size` examples of every dataset, the same ones as a DoReMi run of that size).
Two variants of the schedule are in this file:

    doremi             online: α is the main model's sampling distribution as it trains (what
                       DataFlex's DoReMi mixer does); every `update_every` steps (Algorithm 1
                       updates every proxy step; each update costs 2 x k x `examples` forwards)
    doremi_two_stage   the paper's: the averaged weights ᾱ of a finished online DoReMi run
                       (`proxy: doremi`, a second dependency) used as a static mixture. The paper's
                       proxy is a smaller model trained on the α-weighted loss; here the proxy is the
                       online run of the same backbone, trained by sampling.

Parameter by parameter (paper: Algorithm 1 / FIELD.md; code: 7cde52d and its run script
scripts/runs/run_pile_doremi120M.sh):

    parameter          paper                 released code                         ours (default)
    η                  1                     1 (training_args.py:175; script :70)  1
    c                  1e-3                  1e-4 default; 1e-3 in the script      1e-3
    α_0                uniform               uniform (pile_uniform.json)           uniform (prior_tau ∞)
    update interval    every proxy step      every step                            10 steps (each update
                                                                                   costs 2k·examples forwards)
    examples for λ     the proxy's batch     the batch: 512 seq. over 22 domains   16 per dataset (~23 in the code)
                                             (~23 per domain per step)
    split for λ        training (≈1 epoch)   training batch (≈1 epoch)             held out (see above)
    clipping           per token             per token, mean over domain tokens    the same
    scope              all tokens            all non-pad tokens (pretraining)      response (SFT on responses)
    ᾱ                  1/T Σ_t α_t           includes α_0 (train.py:272-274)       includes α_0
    proxy trained by   α-weighted loss       α-weighted loss, uniform sampling     sampling by α (documented)
    reference          trained on α_ref      natural-weight baseline run           UNI. run, same held-out split

Budgets (run.json `budget`): the runs a DoReMi run reads are extra training it costs, reported
as `extra_training_examples` with each `dependency_runs` entry (for the two-stage variant, the
proxy run and, through it, the reference run).

    mixtures:
      uniform_heldout: {strategy: temperature_heldout, validation_size: 100}
      doremi: {strategy: doremi, reference: uniform_heldout, validation_size: 100}
      doremi_train: {strategy: doremi, reference: uniform, split: train, validation_size: 0, examples: 8}
      doremi_two_stage: {strategy: doremi_two_stage, proxy: doremi}
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from mos.mixing.strategy import MixingStrategy, UnboundRunsError, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def excess_loss(current: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """λ: per-token excess loss clipped at 0, summed over the examples' tokens, over their count."""
    clipped = sum(float(torch.clamp(c.double() - r.double(), min=0).sum()) for c, r in zip(current, reference, strict=True))
    tokens = sum(c.numel() for c in current)
    return clipped / max(1, tokens)


def exponentiated_gradient(alpha: list[float], lam: list[float], eta: float, smoothing: float) -> list[float]:
    """α' = α exp(η λ), normalised, then mixed with the uniform distribution: (1 - c) α' + c / k."""
    log = torch.log(torch.tensor(alpha, dtype=torch.float64)) + eta * torch.tensor(lam, dtype=torch.float64)
    new = torch.softmax(log, dim=0)
    return [float((1.0 - smoothing) * a + smoothing / len(alpha)) for a in new]


def reference_epochs(folder: str | Path) -> dict[str, float]:
    """Per dataset, how many times the reference run saw each of its training examples on average:
    the examples it drew (its trajectory's `drawn`) over its training examples (run.json)."""
    info = json.loads((Path(folder) / "run.json").read_text())
    sizes = info.get("dataset_sizes") or {}
    drawn = dict.fromkeys(sizes, 0)
    with open(Path(folder) / "trajectory.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["dataset"] in drawn:
                drawn[row["dataset"]] += int(float(row["drawn"] or 0))
    return {n: drawn[n] / sizes[n] for n in sizes if sizes[n]}


@dataclass
class DoReMi(MixingStrategy):
    """DoReMi, online: exponentiated gradient on the excess loss over a reference run's model."""

    name = "doremi"
    reference: str = "uniform_heldout"      # mixture label of the reference run (same backbone, seed)
    update_every: int = 10
    examples: int = 16                      # probe examples per dataset per update
    eta: float = 1.0                        # step size η (the paper: 1)
    smoothing: float = 1e-3                 # c (the paper and the run script: 1e-3)
    scope: Literal["response", "training", "sequence"] = "response"
    split: Literal["validation", "train"] = "validation"   # where λ's examples come from
    validation_size: int = 100              # held out of every dataset (the reference holds out the same)
    average_includes_initial: bool = True   # ᾱ counts α_0, as the code's running average does
    prior_tau: float = math.inf             # α_0 (the paper: uniform)
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _alpha: list[float] = field(default_factory=list, init=False, repr=False)
    _alpha_sum: list[float] = field(default_factory=list, init=False, repr=False)
    _lambda_sum: list[float] = field(default_factory=list, init=False, repr=False)
    _last_lambda: list[float] | None = field(default=None, init=False, repr=False)
    _updates: int = field(default=0, init=False, repr=False)
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.update_every < 1 or self.examples < 1:
            raise ValueError(f"update_every and examples must be >= 1, got {self.update_every}, {self.examples}")
        if not 0 <= self.smoothing < 1 or not self.eta > 0:
            raise ValueError(f"smoothing must be in [0, 1) and eta > 0, got {self.smoothing}, {self.eta}")
        if not self.reference:
            raise ValueError("doremi needs a reference mixture (e.g. reference: uniform_heldout)")
        if self.validation_size < 0 or (self.split == "validation" and self.validation_size < 1):
            raise ValueError(f"split: validation needs validation_size >= 1, got {self.validation_size}")

    def dependencies(self) -> dict[str, str]:
        return {"reference": self.reference}

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        self._names = list(sizes)
        self._alpha = list(temperature_weights(sizes, self.prior_tau).values())
        self._alpha_sum = list(self._alpha) if self.average_includes_initial else [0.0] * len(sizes)
        self._lambda_sum, self._last_lambda, self._updates = [0.0] * len(sizes), None, 0
        return dict(zip(self._names, self._alpha, strict=True))

    def check_reference(self) -> None:
        """λ on held-out examples needs a reference that held out the same ones: its run.json says so."""
        if self.split != "validation":
            return
        path = Path(self._runs["reference"]) / "run.json"
        held = json.loads(path.read_text()).get("validation_sizes") or {}
        want = dict.fromkeys(self._names, self.validation_size)
        if held != want:
            raise ValueError(f"doremi: the reference run {path} held out {held or 'nothing'}, but λ is measured "
                             f"on {want} held-out examples it must not have trained on: train the reference with "
                             f"validation_size: {self.validation_size} (e.g. uniform_heldout), or use split: train")

    def excess_losses(self, probe: Probe) -> dict[str, float]:
        if "reference" not in self._runs:
            raise UnboundRunsError("doremi: the reference run's folder was not bound (bind_runs)")
        if not self._updates:
            self.check_reference()
        ref_model = probe.run_model(self._runs["reference"])
        out = {}
        for n in self._names:
            idx = probe.sample(n, self.examples, self.split)
            out[n] = excess_loss(probe.token_losses(n, idx, self.split, self.scope),
                                 probe.token_losses(n, idx, self.split, self.scope, model=ref_model))
        return out

    def update(self, step: int, probe: Probe) -> Update:
        lam = self.excess_losses(probe)
        self._alpha = exponentiated_gradient(self._alpha, [lam[n] for n in self._names], self.eta, self.smoothing)
        self._alpha_sum = [s + a for s, a in zip(self._alpha_sum, self._alpha, strict=True)]
        self._lambda_sum = [s + lam[n] for s, n in zip(self._lambda_sum, self._names, strict=True)]
        self._last_lambda = [lam[n] for n in self._names]
        self._updates += 1
        return Update(dict(zip(self._names, self._alpha, strict=True)), reward=lam)

    def average_weights(self) -> dict[str, float] | None:
        """ᾱ: the mean of α over the T updates so far, with α_0 when `average_includes_initial`
        (1/(T+1) Σ_{t=0..T} α_t, the code's running average); None before the first update."""
        if not self._updates:
            return None
        count = self._updates + (1 if self.average_includes_initial else 0)
        return {n: s / count for n, s in zip(self._names, self._alpha_sum, strict=True)}

    def report(self, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {"updates": self._updates, "average_weights": self.average_weights(),
                               "split": self.split}
        if self._updates:
            out["excess_loss_mean"] = {n: s / self._updates for n, s in zip(self._names, self._lambda_sum, strict=True)}
            out["excess_loss_last"] = dict(zip(self._names, self._last_lambda, strict=True))
        folder = self._runs.get("reference")
        if folder and (Path(folder) / "trajectory.csv").exists():
            out["reference_epochs"] = reference_epochs(folder)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": list(self._alpha), "alpha_sum": list(self._alpha_sum), "updates": self._updates,
                "lambda_sum": list(self._lambda_sum), "last_lambda": self._last_lambda}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._alpha = [float(x) for x in state["alpha"]]
        self._alpha_sum = [float(x) for x in state["alpha_sum"]]
        self._updates = int(state["updates"])
        self._lambda_sum = [float(x) for x in state.get("lambda_sum", [0.0] * len(self._alpha))]
        last = state.get("last_lambda")
        self._last_lambda = None if last is None else [float(x) for x in last]


def averaged_trajectory_weights(path: Path, names: list[str], include_initial: bool = True) -> tuple[dict[str, float], int]:
    """ᾱ from a run's trajectory.csv: the mean of the weights its updates set (the rows that carry a
    reward), with the weights it started from (its first step's rows) when `include_initial`, i.e.
    1/(T+1) Σ_{t=0..T} α_t (the code) or 1/T Σ_{t=1..T} α_t; also returns T."""
    by_step: dict[int, dict[str, float]] = {}
    first: dict[str, float] = {}
    first_step = None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            if first_step is None:
                first_step = step
            if step == first_step and row["reward"] == "":
                first[row["dataset"]] = float(row["weight"])
            if row["reward"] != "":
                by_step.setdefault(step, {})[row["dataset"]] = float(row["weight"])
    if not by_step:
        raise ValueError(f"{path}: no strategy updates (rows with a reward); is it a dynamic DoReMi run?")
    rows = list(by_step.values()) + ([first] if include_initial and first else [])
    for weights in rows:
        if set(weights) != set(names):
            raise ValueError(f"{path}: a step has datasets {sorted(weights)}, this run trains on {sorted(names)}")
    return {n: sum(w[n] for w in rows) / len(rows) for n in names}, len(by_step)


@dataclass
class DoReMiTwoStage(MixingStrategy):
    """DoReMi, the paper's two stages: a static mixture of the averaged weights of an online run."""

    name = "doremi_two_stage"
    proxy: str = "doremi"                   # mixture label of the online DoReMi run (same backbone, seed)
    average_includes_initial: bool = True   # ᾱ counts α_0, as the code's running average does
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _average: dict[str, float] | None = field(default=None, init=False, repr=False)
    _proxy_updates: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.proxy:
            raise ValueError("doremi_two_stage needs the proxy mixture (an online doremi run)")

    def dependencies(self) -> dict[str, str]:
        return {"proxy": self.proxy}

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        if "proxy" not in self._runs:
            raise UnboundRunsError("doremi_two_stage reads its proxy run's trajectory: bind_runs was not called")
        self._average, self._proxy_updates = averaged_trajectory_weights(
            Path(self._runs["proxy"]) / "trajectory.csv", list(sizes), self.average_includes_initial)
        return dict(self._average)

    def report(self, step: int) -> dict[str, Any]:
        return {"proxy_run": self._runs.get("proxy"), "proxy_updates": self._proxy_updates,
                "average_weights": self._average}
