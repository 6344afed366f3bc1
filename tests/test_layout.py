"""The package's wings import only downward (mos/__init__.py draws the order), the analysis's floors
too (analysis/__init__.py: no table or figure script imports another), and every module of the
library says what it is in a docstring.

    pytest tests/test_layout.py
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREE = ("mos", "baselines", "analysis", "scripts")  # every package of the repository whose imports are checked
WINGS = ["common", "data", "models", "mixing", "training", "evaluation", "pipeline"]  # bottom to top
RANK = {w: i for i, w in enumerate(WINGS)}
# analysis/: the library floors (bottom to top, analysis/__init__.py); every other module is a script (a table or
# figure) above them, which imports only the library; __main__ imports the scripts by name (importlib).
ANALYSIS_FLOORS = {"__init__": 0, "inference": 0, "best_differs": 1, "variance": 1, "common": 1, "values": 2,
                   "claim_data": 3, "claims": 4, "weight_figure": 4, "surface": 4}
SCRIPT_FLOOR, MAIN_FLOOR = 5, 6


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


# ---------------------------------------------------------------- no import cycle anywhere in the tree
def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tree_modules() -> dict[str, Path]:
    return {module_name(p): p for top in TREE for p in sorted((ROOT / top).rglob("*.py"))
            if "__pycache__" not in p.parts}


def dynamic_imports() -> dict[str, set[str]]:
    """Imports that name their module in data rather than in an import statement: the strategy registry's
    scan of SCAN_PACKAGES, the benchmark registry's scan of its own folder, `python -m mos`'s commands and
    `python -m analysis`'s scripts."""
    registry = importlib.import_module("mos.mixing.registry")
    commands = importlib.import_module("mos.__main__").COMMANDS
    scripts = importlib.import_module("analysis").SCRIPTS
    modules = tree_modules()
    scanned = {m for m in modules for pkg in registry.SCAN_PACKAGES if m.startswith(pkg + ".")}
    benchmarks = {m for m in modules if m.startswith("mos.evaluation.benchmarks.")}
    return {"mos.mixing.registry": scanned, "mos.__main__": {module for module, _ in commands.values()},
            "analysis.__main__": {f"analysis.{name}" for name in scripts},
            "mos.evaluation.benchmarks": benchmarks}


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of a module but those under `if TYPE_CHECKING:` (annotations only, never executed)."""
    skip = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and
            getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
            for stmt in block.body for n in ast.walk(stmt)}
    return [n for n in ast.walk(tree) if id(n) not in skip]


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of the tree it imports (at the top or lazily, statically or through
    importlib as dynamic_imports() lists); a `from package import name` counts as importing the
    submodule when `name` is one, else the package. Imports under `if TYPE_CHECKING:` never run and do not
    count."""
    modules = tree_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            graph[name] |= {t for t in map(resolve, targets) if t and t != name}
    for name, extra in dynamic_imports().items():
        graph[name] |= extra
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each a cycle's members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere_in_the_tree():
    found = cycles(import_graph())
    assert not found, "import cycles (lazy imports and importlib scans included):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_the_cycle_check_sees_lazy_and_dynamic_imports():
    """The check can fail: two modules importing each other lazily form a cycle, and the registry's scan
    of baselines/ is an edge (a baseline that imported the registry would close a circle)."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    graph = import_graph()
    assert "baselines.temperature" in graph["mos.mixing.registry"]
    assert "mos.pipeline.config" in graph["mos.pipeline.specs"]
    assert cycles({**graph, "baselines.temperature": graph["baselines.temperature"] | {"mos.mixing.registry"}})


def test_scripts_import_the_library_not_each_other():
    """A script may import the library (mos, analysis), the tests' shared helpers and the helpers in scripts/
    whose names start with "_" (the benchmarks' harness _bench.py, the GPU check's _gpu_workload.py); never
    another script."""
    bad = []
    for path in sorted((ROOT / "scripts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                local = (ROOT / "scripts" / f"{name.split('.')[0]}.py").exists()
                helper = name.split(".")[-1].startswith("_")
                if (local or name.startswith("scripts.")) and not helper:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports the script {name}")
                if name.startswith(("baselines", "tests.")) and name not in ("tests.helpers", "tests.pins"):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}")
    assert not bad, "\n".join(bad)


MAX_LINES = 500  # a module past this has more than one job: split it along its seams


def test_no_module_outside_tests_is_over_500_lines():
    too_long = []
    for folder in ("mos", "baselines", "analysis", "scripts", "workflow"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_LINES:
                too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
