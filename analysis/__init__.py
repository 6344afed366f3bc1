"""The paper's tables and figures, regenerated from results/<exp>/summary/ and results/paper/ alone.

    python -m analysis results/<exp>              # every script below (analysis/__main__.py)
    python analysis/table2_main.py results/<exp>  # one of them (also opens as a notebook)

Floors; a module imports only from the floors below it (tests/test_layout.py checks it):

    scripts     one per table or figure, named in SCRIPTS below, and reproduction.py (`make run`'s
                comparison with the committed snapshot); a script never imports another script
      ↓
    claims      the pre-declared claims: hypotheses, Holm, verdicts (scorecard.py, power.py)
    weight_figure  the sampling-weight figure and its start/end table (fig2_weights.py, fig4_...)
    surface     the response surface over the simplex and its optimum (headroom.py; the headroom_fit job)
      ↓
    claim_data  what the claims are tested on: the summaries, claims.json, the paper's numbers (claims.py)
      ↓
    values      the value extractors: per-run µMU, µMB, µBOTH, µALL, skills, weight changes; the
                paper's numbers
      ↓
    common      loading results/, naming, formatting, table and figure writers, a script's command line
    variance    REML variance components, planning over θ0s, simulated experiments (beside common)
    best_differs  the best-of-k claims' max-statistic permutation test (beside common)
      ↓
    inference   the statistics model (θ0 the unit of replication: θ0-level contrasts, MDE, Holm)

Each script declares, once, what it reads and writes, as a literal at module level:

    SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"], "writes": ["tables/table3_priors.md"]}

* reads: files of results/<exp>/summary/ (SUMMARY_FILES) or earlier scripts (their outputs: the headline
  reads the tables);
* writes: the files the workflow tracks, relative to results/<exp>/ (`{benchmark}`: each multiple-choice
  benchmark the config evaluates); the script may write more beside them (a table's .csv and .tex);
* when (optional): the config feature without which the workflow skips it (WHEN);
* rule (optional): the workflow's rule name when it differs from the script's.

`python -m analysis` and the workflow (workflow/rules/analysis.smk, `rule all`) both read these
declarations through `scripts()`, which parses the files instead of importing them: the workflow reads
them at every start, and importing the scripts (pandas, scipy, matplotlib) would cost it seconds. So a
new table is one new file plus its name in SCRIPTS.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

# In dependency order: tables, figures, the scorecard and power table, then the headline (reads the tables).
SCRIPTS = ("table1_datasets", "table2_main", "table3_priors", "table5_mospec", "table6_ppl", "winrate",
           "table_transfer", "fig2_weights", "fig3_loss", "fig4_mospec_weights", "scorecard", "power",
           "leaderboard", "headroom", "headline")

# What `reads` may name besides earlier scripts: the files of results/<exp>/summary/, and what writes each.
SUMMARY_FILES = {"runs.csv": "python -m mos aggregate", "metrics.csv": "python -m mos aggregate",
                 "train_log.csv": "python -m mos aggregate", "trajectory.csv": "python -m mos aggregate",
                 "claims.json": "python -m mos aggregate --claims",
                 "datasets.csv": "python -m mos stats datasets", "ppl.csv": "python -m mos stats ppl",
                 "winrate.csv": "python -m mos judge winrate"}
# What `when` may name: a config feature without which the workflow does not run the script.
WHEN = {"winrate": "eval.winrate names a reference mixture",
        "ppl": "the grid has a PROP. (τ = 1) mixture (Table 6's perplexity study)",
        "transfer": "the grid trains on every dataset alone (the transfer matrix)",
        "headroom": "claims.headroom declares a design and its fitted optimum (config/headroom.yaml)"}
KEYS = {"reads", "writes", "when", "rule"}


@dataclass(frozen=True)
class Script:
    """One analysis script's declaration (its SCRIPT literal) and the first line of its docstring."""

    name: str                 # analysis/<name>.py
    what: str                 # the first line of its docstring
    reads: tuple[str, ...]    # SUMMARY_FILES names and earlier scripts
    writes: tuple[str, ...]   # under results/<exp>/; `{benchmark}`: each multiple-choice benchmark
    when: str | None          # a WHEN feature, or None: always
    rule: str                 # the workflow's rule name (the script's name unless it declares another)
    path: Path


def declaration(name: str, folder: Path = HERE) -> Script:
    """analysis/<name>.py's SCRIPT, read from its source without importing it; an error names the file."""
    path = Path(folder) / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such analysis script (analysis/__init__.py names {name!r})")
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    node = next((n for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "SCRIPT" for t in n.targets)), None)
    if node is None:
        raise ValueError(f"{path}: no module-level SCRIPT = {{'reads': [...], 'writes': [...]}}")
    try:
        spec = ast.literal_eval(node.value)
    except ValueError:
        raise ValueError(f"{path}:{node.lineno}: SCRIPT must be a literal dict (strings and lists only)"
                         ) from None
    def strings(value: object) -> bool:
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)

    if not (isinstance(spec, dict) and not set(spec) - KEYS and spec.get("writes") and strings(spec["writes"])
            and strings(spec.get("reads", [])) and isinstance(spec.get("rule", name), str)):
        raise ValueError(f"{path}:{node.lineno}: SCRIPT must be a dict with 'writes' (a list of paths) and "
                         f"optionally 'reads' (a list of names), 'when' and 'rule'; got {spec!r}")
    if spec.get("when") is not None and spec["when"] not in WHEN:
        raise ValueError(f"{path}:{node.lineno}: SCRIPT 'when' is {spec['when']!r}; "
                         f"expected one of {sorted(WHEN)}")
    doc = ast.get_docstring(tree) or ""
    return Script(name=name, what=doc.split("\n", 1)[0], reads=tuple(spec.get("reads", ())),
                  writes=tuple(spec["writes"]), when=spec.get("when"), rule=spec.get("rule", name), path=path)


def scripts(names: tuple[str, ...] = SCRIPTS, folder: Path = HERE) -> list[Script]:
    """The declarations of the scripts, in order; each may read only summary files and earlier scripts."""
    out: list[Script] = []
    for name in names:
        script = declaration(name, folder)
        earlier = {s.name for s in out}
        unknown = [r for r in script.reads if r not in SUMMARY_FILES and r not in earlier]
        if unknown:
            raise ValueError(f"{script.path}: SCRIPT reads {unknown}, neither a summary file "
                             f"({sorted(SUMMARY_FILES)}) nor a script before it in SCRIPTS")
        out.append(script)
    return out
