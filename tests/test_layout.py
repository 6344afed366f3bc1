"""The package's wings import only downward (mos/__init__.py draws the order), and every module of
the library says what it is in a docstring.

    pytest tests/test_layout.py
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WINGS = ["common", "data", "mixing", "training", "evaluation", "pipeline"]  # bottom to top
RANK = {w: i for i, w in enumerate(WINGS)}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `import mos...` / `from mos... import ...` in a file, lazy ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "mos" else [node.module]
            out += [(node.lineno, n) for n in names]
    return [(line, m) for line, m in out if m == "mos" or m.startswith("mos.")]


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def library_files() -> list[Path]:
    return sorted(p for p in (ROOT / "mos").rglob("*.py") if p.parent != ROOT / "mos")


def test_every_module_is_in_a_wing():
    top = sorted(p.name for p in (ROOT / "mos").glob("*.py"))
    assert top == ["__init__.py", "__main__.py"], f"modules outside a wing: {top}"
    assert sorted(p.name for p in (ROOT / "mos").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(WINGS)


def test_wings_import_only_downward():
    upward = []
    for path in library_files():
        own = path.relative_to(ROOT / "mos").parts[0]
        for line, module in imported_modules(path):
            other = wing_of(module)
            if other is None:
                upward.append(f"{path.relative_to(ROOT)}:{line}: imports {module} (not a wing)")
            elif RANK[other] > RANK[own]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {module} ({other} is above it)")
    assert not upward, "\n".join(upward)


def test_baselines_and_analysis_import_only_their_wings():
    allowed = {"baselines": {"mixing", "common"}, "analysis": {"common"}}
    bad = []
    for folder, wings in allowed.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            bad += [f"{path.relative_to(ROOT)}:{line}: {m}" for line, m in imported_modules(path)
                    if wing_of(m) not in wings]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", library_files() + [ROOT / "mos" / "__init__.py", ROOT / "mos" / "__main__.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_has_a_docstring(path):
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path.relative_to(ROOT)} has no module docstring"


def test_one_benchmark_per_file():
    """mos/evaluation/benchmarks/ holds the contract (base.py), the registry (__init__.py) and one file per
    benchmark, each found by the registry's scan of the folder."""
    from mos.evaluation import benchmarks

    folder = ROOT / "mos" / "evaluation" / "benchmarks"
    files = sorted(p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "base"))
    found = [cls.__module__.removeprefix(f"{benchmarks.__name__}.") for cls in benchmarks.available().values()
             if cls.__module__.startswith(f"{benchmarks.__name__}.")]
    assert sorted(found) == files, "each benchmark file must define exactly one registered benchmark"


def test_layout_check_catches_an_upward_import(tmp_path):
    """The check itself can fail: a mixing module that imports the training loop is reported."""
    bad = tmp_path / "probe.py"
    bad.write_text('"""x"""\nfrom mos.training.loop import Run\n')
    (line, module), = imported_modules(bad)
    assert RANK[wing_of(module)] > RANK["mixing"]
