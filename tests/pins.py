"""The strategy pins' definitions and their comparison, shared by tests/test_strategy_pins.py (which
explains the two branches and the tolerances) and scripts/portable_arithmetic.py (which measures the
drift the tolerances are built on).

    from tests.pins import PINNED, pinned_run, pin_differences
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

from safetensors.torch import load_file

from mos.common.provenance import hardware
from mos.training.jobs import train
from tests.helpers import train_spec

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "strategy_pins.json"
OTHER_CPU = FIXTURES / "strategy_pins_avx512.json"  # the same pins, recorded on an AVX-512 AMD EPYC
SKILLS = ("Mathematics", "Medicine", "General", "NLP")

PINNED = {
    "uniform": ({"strategy": "temperature", "params": {"tau": "inf"}}, {}),
    "proportional_batch_unit": ({"strategy": "temperature", "params": {"tau": 1}}, {"sampling_unit": "batch"}),
    "fixed": ({"strategy": "fixed", "params": {"weights": {"Mathematics": 4, "Medicine": 1, "General": 2,
                                                          "NLP": 3}}}, {}),
    "mos_cossim_ema": ({"strategy": "mos", "params": {"reward": "cossim", "ema": True, "update_every": 3,
                                                      "scorer_lr": 1e-2, "cossim_examples": 8}}, {}),
    "mos_diff": ({"strategy": "mos", "params": {"reward": "diff", "update_every": 3, "scorer_lr": 1e-2,
                                                "diff_examples": 8, "prior_tau": 10.0, "ppl_scope": "response"}}, {}),
    "mospec_diff_ema": ({"strategy": "mospec", "params": {"reward": "diff", "ema": True, "update_every": 3,
                                                          "scorer_lr": 1e-2, "diff_examples": 8,
                                                          "target": "Mathematics"}}, {}),
    "multidds": ({"strategy": "multidds", "params": {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2,
                                                     "grad_examples": 4, "validation_examples": 2}}, {}),
    "multiuat": ({"strategy": "multiuat", "params": {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2,
                                                     "validation_examples": 2}}, {}),
    "mos_mlp_reinforce": ({"strategy": "mos", "params": {"reward": "cossim", "scorer": "mlp",
                                                         "update_rule": "reinforce", "update_every": 3,
                                                         "scorer_lr": 0.1, "cossim_examples": 4}}, {}),
}

# The tolerance of the comparison on another machine, relative, for every float the pins log: 20 times the
# largest difference measured between kernel sets and CPUs (2.6e-7, results/benchmarks/portable_arithmetic.json,
# checked by tests/test_strategy_pins.py), and 12 times smaller than the smallest perturbed rule tested there.
TOLERANCE = 5e-6
EXACT = ("step", "dataset", "drawn", "tokens", "lr")


def model_hash(path: Path) -> str:
    tensors = load_file(path)
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].contiguous().numpy().tobytes())
    return h.hexdigest()


def read_rows(path: Path, drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def this_machine() -> str:
    """The fingerprint of the pins' arithmetic: this machine at the tests' one thread (tests/conftest.py)."""
    return hardware()["fingerprint"]


# ------------------------------------------------------------------ the comparison, both branches
def _differs(field: str, got: str | float, want: str | float) -> str | None:
    """Why `got` is not `want` on another machine (None when within the field's tolerance)."""
    if field in EXACT:
        return None if str(got) == str(want) else f"{field}: {got!r} != {want!r} (must be exact)"
    if got in ("", None) or want in ("", None):
        return None if got == want else f"{field}: {got!r} != {want!r}"
    g, w = float(got), float(want)
    if math.isclose(g, w, rel_tol=TOLERANCE, abs_tol=1e-12):
        return None
    return f"{field}: {g!r} vs {w!r}, relative difference {abs(g - w) / max(abs(w), 1e-300):.2e} > {TOLERANCE:.0e}"


def pin_differences(got: dict, want: dict, bit_identical: bool) -> list[str]:
    """Every way `got` fails the pin `want`: exact equality where `bit_identical`, else within TOLERANCE."""
    if bit_identical:
        return [f"{key}: {got.get(key)!r} != {want.get(key)!r} (bit-identical expected on the recording machine)"
                for key in sorted(set(got) | set(want)) if got.get(key) != want.get(key)]
    problems = []
    for table in ("trajectory", "train_log"):
        if len(got[table]) != len(want[table]):
            problems.append(f"{table}: {len(got[table])} rows != {len(want[table])}")
            continue
        for i, (g, w) in enumerate(zip(got[table], want[table], strict=True)):
            if g.keys() != w.keys():
                problems.append(f"{table} row {i}: columns {sorted(g)} != {sorted(w)}")
                continue
            problems += [f"{table} row {i} {p}" for k in g if (p := _differs(k, g[k], w[k]))]
    if got["final_weights"].keys() != want["final_weights"].keys():
        problems.append(f"final_weights: keys {sorted(got['final_weights'])} != {sorted(want['final_weights'])}")
    else:
        problems += [p for k in got["final_weights"]
                     if (p := _differs("final_weights", got["final_weights"][k], want["final_weights"][k]))]
    problems += [p for k in ("final_loss", "tokens") if (p := _differs(k, got[k], want[k]))]
    return problems  # the model's bytes are compared only on the recording machine


def pinned_run(label: str, model_dir: Path, testbed_dir: Path, base_ppl: Path, out: Path,
               mixture: dict | None = None) -> dict:
    """Train the pinned run `label` (or its mixture replaced by `mixture`) into `out`; what the pins compare."""
    pinned, train_overrides = PINNED[label]
    spec = train_spec(model_dir, testbed_dir, steps=9, checkpoint_every=4, log_every=3, **train_overrides)
    spec["mixture"] = {"name": label, **(mixture or pinned)}
    spec["base_ppl"] = str(base_ppl)
    info = train(spec, out)
    return {"trajectory": read_rows(out / "trajectory.csv"),
            "train_log": read_rows(out / "train_log.csv", drop=("seconds",)),
            "final_weights": info["final_weights"], "final_loss": info["final_loss"], "tokens": info["tokens"],
            "model_sha256": model_hash(out / "model" / "model.safetensors")}
