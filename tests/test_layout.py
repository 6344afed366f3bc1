"""The package's wings import only downward (mos/__init__.py draws the order), the analysis's floors
too (analysis/__init__.py: no table or figure script imports another), and every module of the
library says what it is in a docstring.

    pytest tests/test_layout.py
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WINGS = ["common", "data", "mixing", "training", "evaluation", "pipeline"]  # bottom to top
RANK = {w: i for i, w in enumerate(WINGS)}
# analysis/: the library floors (bottom to top, analysis/__init__.py); every other module is a script (a table or
# figure) above them, which imports only the library; __main__ imports the scripts by name (importlib).
ANALYSIS_FLOORS = {"__init__": 0, "inference": 0, "common": 1, "values": 2, "claims": 3, "weight_figure": 3}
SCRIPT_FLOOR, MAIN_FLOOR = 4, 5


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


def analysis_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every analysis module a file imports (`analysis.X`, `from analysis import X`), lazy
    ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[1]) for a in node.names if a.name.startswith("analysis.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "analysis":
                out += [(node.lineno, a.name) for a in node.names if (ROOT / "analysis" / f"{a.name}.py").is_file()]
            elif node.module.startswith("analysis."):
                out.append((node.lineno, node.module.split(".")[1]))
    return out


def analysis_floor(name: str) -> int:
    return MAIN_FLOOR if name == "__main__" else ANALYSIS_FLOORS.get(name, SCRIPT_FLOOR)


def analysis_problems(folder: Path) -> list[str]:
    """Imports that go sideways (a script importing a script) or up a floor, in every module of `folder`."""
    bad = []
    for path in sorted(folder.glob("*.py")):
        own = analysis_floor(path.stem)
        for line, other in analysis_imports(path):
            if analysis_floor(other) >= own:
                same = own == analysis_floor(other) == SCRIPT_FLOOR
                kind = "another script" if same else "a module on its floor or above"
                bad.append(f"analysis/{path.name}:{line}: imports analysis.{other} ({kind})")
    return bad


def test_analysis_scripts_import_only_the_floors_below():
    """values, common and inference are the shared layer; no table or figure script imports another one."""
    assert not analysis_problems(ROOT / "analysis"), "\n".join(analysis_problems(ROOT / "analysis"))
    assert set(ANALYSIS_FLOORS) <= {p.stem for p in (ROOT / "analysis").glob("*.py")}


def test_analysis_check_catches_a_script_importing_a_script(tmp_path):
    """The check itself can fail: a table that imports another table, or values importing a table, is reported."""
    (tmp_path / "table9_new.py").write_text('"""x"""\nfrom analysis import common, table2_main\n')
    (tmp_path / "values.py").write_text('"""x"""\nimport analysis.fig3_loss\n')
    (tmp_path / "common.py").write_text('"""x"""\nfrom analysis.inference import Fit\n')  # downward: allowed
    assert analysis_problems(tmp_path) == [
        "analysis/table9_new.py:2: imports analysis.table2_main (another script)",
        "analysis/values.py:2: imports analysis.fig3_loss (a module on its floor or above)"]


@pytest.mark.parametrize("path", library_files() + [ROOT / "mos" / "__init__.py", ROOT / "mos" / "__main__.py"]
                         + sorted((ROOT / "analysis").glob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_has_a_docstring(path):
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path.relative_to(ROOT)} has no module docstring"


def test_layout_check_catches_an_upward_import(tmp_path):
    """The check itself can fail: a mixing module that imports the training loop is reported."""
    bad = tmp_path / "probe.py"
    bad.write_text('"""x"""\nfrom mos.training.loop import Run\n')
    (line, module), = imported_modules(bad)
    assert RANK[wing_of(module)] > RANK["mixing"]
