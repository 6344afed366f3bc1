"""The selection-aware test of best-of-k claims ("does the best arm differ?"): a max-statistic
permutation test on θ0 means, arm labels shuffled within each (backbone, θ0) block, so the seeds of one θ0
move together. Part of the analysis library (analysis/claims.py imports it; tests/test_inference.py).

    from analysis.best_differs import best_differs_test
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.inference import Fit


@dataclass(frozen=True)
class BestDiffers:
    """Result of the max-statistic permutation test of one best-of-k claim."""

    best: dict[str, str]        # backbone -> the arm with the highest mean
    p_each: dict[str, float]    # arm -> p of "this arm is beaten somewhere" (max statistic over backbones, rivals)
    p_held: float               # the claim (every arm is beaten on some backbone): intersection-union, max of p_each
    p_contradicted: float       # some arm beats every rival on every backbone (Bonferroni over the arms)
    permutations: int


class BestDiffersDesign:
    """θ0 means of k arms on several backbones, arranged for the permutation test: arm labels are shuffled
    within each (backbone, θ0) block, so the seeds of one θ0 move together (REVIEW L1)."""

    def __init__(self, fit: Fit, backbones: Sequence[str], arms: Sequence[str]) -> None:
        missing = [(b, a) for b in backbones for a in arms if not fit.has(b, a)]
        if missing:
            raise KeyError(f"{fit.what}: no runs of {', '.join(f'{b} × {a}' for b, a in missing)}")
        self.fit, self.backbones, self.arms = fit, list(backbones), list(arms)
        cols, group, block = [], [], []
        for i, b in enumerate(backbones):
            shared = set.intersection(*(set(fit.theta0s[(b, a)]) for a in arms))
            for t in sorted(shared):
                for j, a in enumerate(arms):
                    cols.append(fit._unit_pos[(b, a, t)])
                    group.append(i * len(arms) + j)
                    block.append((b, t))
        self.cols = np.array(cols, dtype=int)
        self.block = np.array([list(dict.fromkeys(block)).index(k) for k in block])
        self.base = np.argsort(self.block, kind="stable")
        G = len(backbones) * len(arms)
        group = np.array(group)
        self.n = np.bincount(group, minlength=G).astype(float)
        if (self.n < 1).any():
            raise ValueError(f"{fit.what}: some backbone has no θ0 shared by all of {arms}")
        self.G = np.zeros((len(cols), G))
        self.G[np.arange(len(cols)), group] = 1.0 / self.n[group]

    def values(self, Y: np.ndarray) -> np.ndarray:
        """The design's θ0 means (S × units in this design) of runs' values Y (S × runs of the fit)."""
        return (Y @ self.fit.A)[:, self.cols]

    def statistics(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For θ0 means M (… × units): per arm h, max over (backbone, rival) of the scaled difference rival − h
        (beaten), and min over them of h − rival (beats all)."""
        k = len(self.arms)
        m = (M @ self.G).reshape(*M.shape[:-1], len(self.backbones), k)
        scale = np.sqrt(1 / self.n[:, None] + 1 / self.n[None, :])
        scale = np.stack([scale[i * k:(i + 1) * k, i * k:(i + 1) * k] for i in range(len(self.backbones))])
        d = (m[..., :, None] - m[..., None, :]) / scale  # d[..., b, r, h] = (m_r − m_h) / √(1/n_r + 1/n_h)
        off = ~np.eye(k, dtype=bool)
        beaten = np.where(off, d, -np.inf).max(axis=-2).max(axis=-2)
        beats = np.where(off, -d, np.inf).min(axis=-2).min(axis=-2)
        return beaten, beats

    def permute(self, M: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
        """M (S × units) -> (S × B × units): arm labels shuffled within each (backbone, θ0) block."""
        S, N = M.shape
        keys = self.block[None, None, :] * 2.0 + rng.random((S, permutations, N))
        order = np.argsort(keys, axis=-1)
        out = np.empty((S, permutations, N))
        np.put_along_axis(out, np.broadcast_to(self.base, (S, permutations, N)),
                          np.take_along_axis(np.broadcast_to(M[:, None, :], (S, permutations, N)), order, axis=-1),
                          axis=-1)
        return out

    def pvalues(self, Y: np.ndarray, permutations: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """p_each (S × k), p_held (S), p_contradicted (S) for runs' values Y (S × runs)."""
        M = self.values(Y)
        beaten, beats = self.statistics(M)
        perm_beaten, perm_beats = self.statistics(self.permute(M, permutations, rng))
        p_each = (1 + (perm_beaten >= beaten[:, None, :] - 1e-12).sum(axis=1)) / (permutations + 1)
        p_best = (1 + (perm_beats >= beats[:, None, :] - 1e-12).sum(axis=1)) / (permutations + 1)
        return p_each, p_each.max(axis=1), np.minimum(1.0, len(self.arms) * p_best.min(axis=1))

    def simulated_pvalues(self, Y: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """p_held and p_contradicted (S) of simulated experiments Y, ranked among the statistics of `reference`
        experiments simulated without any mixture effect (their null distribution) instead of nested
        permutations: the same statistics, one pass."""
        k = len(self.arms)
        beaten, beats = self.statistics(self.values(Y))
        null_beaten, null_beats = self.statistics(self.values(reference))

        def rank_p(stat: np.ndarray, null: np.ndarray) -> np.ndarray:
            order = np.sort(null, axis=0)
            R = len(null)
            return np.column_stack([(1 + R - np.searchsorted(order[:, j], stat[:, j] - 1e-12, side="left")) / (R + 1)
                                    for j in range(k)])

        return rank_p(beaten, null_beaten).max(axis=1), np.minimum(1.0, k * rank_p(beats, null_beats).min(axis=1))


def best_differs_test(fit: Fit, backbones: Sequence[str], arms: Sequence[str], permutations: int = 2000,
                      seed: int = 0) -> BestDiffers:
    """Selection-aware test of "the best of `arms` differs between `backbones`" on one metric.

    The claim holds when every arm is beaten on some backbone (else one arm would be best everywhere):
    for each arm h the statistic is the largest scaled difference rival − h over all backbones and
    rivals, its null distribution comes from shuffling arm labels within (backbone, θ0) blocks of θ0
    means, and the claim's p is the largest of the arms' p (intersection-union test, level α without
    further correction). Contradicted: one arm beats every rival on every backbone (its smallest scaled
    difference, permutation p, Bonferroni over the k arms).
    """
    design = BestDiffersDesign(fit, backbones, arms)
    y = fit.y[None, :]
    p_each, p_held, p_contra = design.pvalues(y, permutations, np.random.default_rng(seed))
    means = (design.values(y) @ design.G).reshape(len(backbones), len(arms))
    best = {b: arms[int(np.argmax(means[i]))] for i, b in enumerate(backbones)}
    return BestDiffers(best, dict(zip(arms, map(float, p_each[0]), strict=True)), float(p_held[0]),
                       float(p_contra[0]), permutations)
