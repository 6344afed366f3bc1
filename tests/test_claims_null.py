"""The whole claims pipeline on null data with a strong mixture × θ0 interaction: the scorecard's "held" must
come out at most α of the time (REVIEW §2 H1-H3: the seed-level analysis said "held" 8-15% of the time).

    .venv/bin/pytest tests/test_claims_null.py

The design is the one the review measured (the previous default on its LLaMA stand-in): five primary arms
with nine seeds, three on each of three θ0s, and six more cells with two seeds on θ0s 0 and 1; a strong
interaction (σ²_m×θ0 = 1.5, σ²_seed = 0.3 µBOTH², plus a θ0 effect) and no mixture effect at all. Each
simulated experiment goes through `claims.evaluate` exactly as the scorecard calls it (families, Holm,
verdicts). The share of experiments in which some primary hypothesis is held — or held or contradicted —
must stay within α plus three Monte-Carlo standard errors. The code of fcec701, fed the same 400
experiments, said "held" for some primary hypothesis in 9.5% and "held or contradicted" in 14.3% of them
(bound 8.3%); this code: 1.8% and 3.5%.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import claims

PRIMARY = ["temperature", "mos_cossim_ema", "mos_diff_ema", "mospec_cossim_ema", "math_only"]
OTHERS = ["proportional", "uniform", "multidds", "multiuat", "mos_cossim", "mos_diff"]
SIMULATIONS = 400


def old_design() -> pd.DataFrame:
    rows = [("tiny-llama", m, s, str(s % 3)) for m in PRIMARY for s in range(9)]
    rows += [("tiny-llama", m, s, str(s % 3)) for m in OTHERS for s in range(2)]
    return pd.DataFrame(rows, columns=["backbone", "mixture", "seed", "theta0"])


def null_experiment(frame: pd.DataFrame, rng: np.random.Generator, theta_var: float = 0.2,
                    inter_var: float = 1.5, seed_var: float = 0.3) -> pd.DataFrame:
    theta = {t: rng.normal(0, math.sqrt(theta_var)) for t in frame["theta0"].unique()}
    inter = {k: rng.normal(0, math.sqrt(inter_var)) for k in set(zip(frame["mixture"], frame["theta0"], strict=True))}
    value = [56.0 + theta[t] + inter[(m, t)] + rng.normal(0, math.sqrt(seed_var))
             for m, t in zip(frame["mixture"], frame["theta0"], strict=True)]
    return frame.assign(value=value)


def spec() -> dict:
    def contrast(cid: str, a: str, b: str | list[str], family: str = "primary") -> dict:
        return {"id": cid, "text": cid, "kind": "contrast", "family": family, "metric": "mu_both",
                "direction": "greater", "backbones": ["tiny-llama"], "a": {"tiny-llama": a},
                "b": {"tiny-llama": b if isinstance(b, list) else [b]}}

    return {"alpha": 0.05, "null_simulations": 0, "seed": 0,
            "list": [contrast("cossim_vs_temp", "mos_cossim_ema", "temperature"),
                     contrast("diff_vs_temp", "mos_diff_ema", "temperature"),
                     contrast("mospec_vs_mos", "mospec_cossim_ema", "mos_cossim_ema"),
                     contrast("mospec_vs_math", "mospec_cossim_ema", "math_only"),
                     contrast("ema_cossim", "mos_cossim_ema", "mos_cossim", "secondary"),
                     contrast("diff_vs_prop", "mos_diff_ema", "proportional", "secondary")]}


def evaluate_one(values: pd.DataFrame) -> list[claims.Hypothesis]:
    runs = values[["backbone", "mixture", "seed", "theta0"]].assign(paper_backbone="", paper_method="")
    data = claims.Data(Path("null"), runs, spec(), {"mu_both": values},
                       {"table2": pd.DataFrame(), "table3": pd.DataFrame(), "table5": pd.DataFrame()}, {})
    return claims.evaluate(data, simulations=0)


def test_held_at_most_alpha_on_null_data_with_a_strong_theta0_interaction() -> None:
    rng, frame = np.random.default_rng(2026), old_design()
    any_held = any_rejected = 0
    held: dict[str, int] = {}
    for _ in range(SIMULATIONS):
        hyps = evaluate_one(null_experiment(frame, rng))
        primary = [h for h in hyps if h.family == "primary"]
        any_held += any(h.code == claims.HELD for h in primary)
        any_rejected += any(h.code in (claims.HELD, claims.CONTRADICTED) for h in primary)
        for h in hyps:
            held[h.claim["id"]] = held.get(h.claim["id"], 0) + (h.code == claims.HELD)
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / SIMULATIONS)
    assert any_held / SIMULATIONS <= bound, any_held / SIMULATIONS
    assert any_rejected / SIMULATIONS <= bound, any_rejected / SIMULATIONS
    assert all(v / SIMULATIONS <= bound for v in held.values()), held
    assert sum(held.values()) > 0  # the procedure can say "held" at all on this design
