"""Do the field methods' tests catch a wrong constant? Each mutation below changes one line of a
baselines/ file (a hard-coded parameter, a rule replaced by a near miss); the script applies it to a
scratch copy of this checkout, runs the method's tests there and records whether they fail.

    python scripts/field_mutations.py                 # -> results/benchmarks/field_mutations.{json,md}
    python scripts/field_mutations.py --only odm      # one method

The first 14 mutations are the ones the previous tests let through (issue 19, checked at fcec701 on
tests/test_field_strategies.py, test_reward_arithmetic.py and test_strategy_pins.py filtered by the
method's name); the rest are further constants of the current defaults. A mutation that no test
catches is a hole in the tests: the report lists it as "survived". Each mutation must match exactly one
place in the file it names, so an edit of the method that moves the line fails here loudly instead of
silently testing nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_field_rules.py", "tests/test_field_strategies.py"]


@dataclass(frozen=True)
class Mutation:
    method: str
    what: str
    file: str
    old: str
    new: str
    earlier: str  # what the tests at fcec701 did with it ("survived" or "not tried")


MUTATIONS = [
    Mutation("odm", "moving-average α hard-coded 0.9", "baselines/odm.py",
             "self.alpha * self._estimates[i] + (1.0 - self.alpha) * r_hat",
             "0.9 * self._estimates[i] + 0.1 * r_hat", "survived"),
    Mutation("odm", "1 − 2ε instead of 1 − Kε (linear policy)", "baselines/odm.py",
             "return [(1.0 - k * eps) * x + eps for x in share]",
             "return [(1.0 - 2 * eps) * x + eps for x in share]", "survived"),
    Mutation("odm", "fixed_epsilon ignored", "baselines/odm.py",
             "if self.fixed_epsilon is not None:\n            return self.fixed_epsilon",
             "if False:\n            return self.fixed_epsilon", "survived"),
    Mutation("doremi", "η and c hard-coded 1 and 1e-3", "baselines/doremi.py",
             "[lam[n] for n in self._names], self.eta, self.smoothing)",
             "[lam[n] for n in self._names], 1.0, 1e-3)", "survived"),
    Mutation("dynamixsft", "α hard-coded 0.95", "baselines/dynamixsft.py",
             "self.alpha * q + (1.0 - self.alpha) * r", "0.95 * q + 0.05 * r", "survived"),
    Mutation("dynamixsft", "γ hard-coded 0.3", "baselines/dynamixsft.py",
             "boltzmann_policy(self._q, self._prior, self.beta, self.gamma)",
             "boltzmann_policy(self._q, self._prior, self.beta, 0.3)", "survived"),
    Mutation("dynamixsft", "min-max scaling replaced by an argmax one-hot", "baselines/dynamixsft.py",
             "[(v - lo) / (hi - lo) for v in values]", "[float(v == hi) for v in values]", "survived"),
    Mutation("dynamixsft", "lookahead_lr ignored", "baselines/dynamixsft.py",
             "lr = self.lookahead_lr if self.lookahead_lr is not None else probe.learning_rate",
             "lr = probe.learning_rate", "survived"),
    Mutation("aioli", "cumulative update (ema: null) made non-cumulative", "baselines/aioli.py",
             "logits = np.log(np.array(self._p)) + self.eta * a.sum(axis=0)",
             "logits = np.log(np.array(self._init)) + self.eta * a.sum(axis=0)", "survived"),
    Mutation("aioli", "η hard-coded 1 in the cumulative branch", "baselines/aioli.py",
             "logits = np.log(np.array(self._p)) + self.eta * a.sum(axis=0)",
             "logits = np.log(np.array(self._p)) + 1.0 * a.sum(axis=0)", "survived"),
    Mutation("aioli", "β not divided by lp_rounds", "baselines/aioli.py",
             "interaction_matrix(beta / self.lp_rounds,", "interaction_matrix(beta,", "survived"),
    Mutation("hbo", "local actors always REINFORCE", "baselines/hbo.py",
             "self.update_rule, self.inner_steps, init=1.0", '"reinforce", self.inner_steps, init=1.0',
             "survived"),
    Mutation("hbo", "grad_scope ignored", "baselines/hbo.py",
             "scope=self.grad_scope)", 'scope="sequence")', "survived"),
    Mutation("hbo", "buckets by θ0's sequence perplexity whatever bucket_score says", "baselines/hbo.py",
             'probe.base_ifd(n, pool) if self.bucket_score == "ifd"',
             'probe.base_perplexities(n, pool, "sequence") if self.bucket_score == "ifd"', "survived"),
    # constants of the current defaults, not tried before
    Mutation("aioli", "EMA factor hard-coded 0.1", "baselines/aioli.py",
             "(1.0 - self.ema) * a + self.ema * np.array(st[\"ema_A\"])",
             "0.9 * a + 0.1 * np.array(st[\"ema_A\"])", "not tried"),
    Mutation("aioli", "η hard-coded 1 in the EMA branch", "baselines/aioli.py",
             "logits = np.log(np.array(self._init)) + self.eta * smooth.sum(axis=0)",
             "logits = np.log(np.array(self._init)) + 1.0 * smooth.sum(axis=0)", "not tried"),
    Mutation("doremi", "no smoothing toward uniform (c ignored)", "baselines/doremi.py",
             "return [float((1.0 - smoothing) * a + smoothing / len(alpha)) for a in new]",
             "return [float(a) for a in new]", "not tried"),
    Mutation("hbo", "local updates once whatever local_updates says", "baselines/hbo.py",
             "for _ in range(self.local_updates):", "for _ in range(1):", "not tried"),
]


def apply(copy: Path, m: Mutation) -> None:
    path = copy / m.file
    text = path.read_text(encoding="utf-8")
    count = text.count(m.old)
    if count != 1:
        raise SystemExit(f"{m.file}: the mutation {m.what!r} expects exactly one match of {m.old!r}, found {count}")
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")


def run_tests(copy: Path) -> tuple[bool, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(copy)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
                          cwd=copy, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    return proc.returncode != 0, lines[0].split(" - ")[0].removeprefix("FAILED ") if lines else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="one method (odm, doremi, dynamixsft, aioli, hbo)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "benchmarks" / "field_mutations.json")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only in (None, m.method)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "results", "resources",
                                                                  "snapshots", "logs", ".snakemake"))
        failed, failing = run_tests(copy)
        if failed:
            raise SystemExit(f"the unmutated tests fail ({failing}): fix them before checking mutations")
        for m in chosen:
            original = (copy / m.file).read_text(encoding="utf-8")
            apply(copy, m)
            began = time.perf_counter()
            caught, test = run_tests(copy)
            (copy / m.file).write_text(original, encoding="utf-8")
            rows.append({"method": m.method, "mutation": m.what, "file": m.file, "earlier_tests": m.earlier,
                         "now": "caught" if caught else "survived", "first_failing_test": test,
                         "seconds": round(time.perf_counter() - began, 1)})
            print(f"{m.method:10s} {rows[-1]['now']:8s} {m.what}  {test}", flush=True)
    report = {"what": __doc__.split("\n")[0], "tests": TESTS, "command": "python scripts/field_mutations.py",
              "mutations": rows, "caught": sum(r["now"] == "caught" for r in rows), "total": len(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    table = ["| method | mutation | tests at fcec701 | tests now | first failing test |", "|---|---|---|---|---|"]
    table += [f"| {r['method']} | {r['mutation']} | {r['earlier_tests']} | {r['now']} | "
              f"`{r['first_failing_test']}` |" for r in rows]
    args.out.with_suffix(".md").write_text("# Mutations of the field methods against their tests\n\n"
                                           f"`{report['command']}`: {report['caught']} of {report['total']} "
                                           "caught.\n\n" + "\n".join(table) + "\n", encoding="utf-8")
    return 0 if report["caught"] == report["total"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
