"""The analysis scripts' declarations (analysis/__init__.py), python -m analysis's check of them, and a
script's command line (analysis/common.run).

    .venv/bin/pytest tests/test_analysis_scripts.py -q

Each script declares once what it reads and writes (its SCRIPT literal); `python -m analysis` and the
workflow read the declarations without importing the scripts. These tests check that every script is
declared, that the static reading agrees with the module, that reading imports no script (the workflow
reads it at every start), that a bad declaration is an error naming the file, and that a script which
does not write a file it declares fails.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import analysis
from analysis import __main__ as cli
from analysis import common, headline

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = {"__init__", "__main__", "inference", "variance", "surface", "common", "values", "claims", "claim_data", "best_differs",
           "weight_figure"}
WORKFLOW_ONLY = {"reproduction"}  # compares a run with its snapshot: the workflow's rule `reproduction`


def test_every_script_is_in_scripts_and_declared():
    on_disk = {p.stem for p in (ROOT / "analysis").glob("*.py")} - LIBRARY - WORKFLOW_ONLY
    assert on_disk == set(analysis.SCRIPTS)
    declared = analysis.scripts()
    assert [s.name for s in declared] == list(analysis.SCRIPTS)
    assert declared[-1].name == "headline" and "table2_main" in declared[-1].reads
    rules = [s.rule for s in declared]
    assert len(set(rules)) == len(rules) and "winrate_table" in rules  # `winrate` is the judging rule's name


@pytest.mark.parametrize("name", analysis.SCRIPTS)
def test_the_static_reading_is_the_modules_own(name):
    module = importlib.import_module(f"analysis.{name}")
    script = analysis.declaration(name)
    assert module.SCRIPT["writes"] == list(script.writes)
    assert module.SCRIPT.get("reads", []) == list(script.reads)
    assert script.what == module.__doc__.split("\n", 1)[0]
    assert callable(module.write_all)


def test_reading_the_declarations_imports_no_script():
    """The workflow reads them at every start: no script, no pandas/scipy/matplotlib (seconds) behind it."""
    code = ("import sys, analysis; analysis.scripts(); "
            "print(sorted(m for m in sys.modules if m.startswith(('analysis', 'pandas', 'scipy', 'matplotlib'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['analysis']"


@pytest.mark.parametrize(("source", "error"), [
    ('"""x"""\n', "no module-level SCRIPT"),
    ('"""x"""\nSCRIPT = {"writes": [f"tables/{1}.md"]}\n', ":2: SCRIPT must be a literal dict"),
    ('"""x"""\nSCRIPT = {"reads": ["runs.csv"]}\n', ":2: SCRIPT must be a dict with 'writes'"),
    ('"""x"""\nSCRIPT = {"writes": ["t.md"], "output": ["t.md"]}\n', ":2: SCRIPT must be a dict with 'writes'"),
    ('"""x"""\nSCRIPT = {"writes": ["t.md"], "when": "gpu"}\n', ":2: SCRIPT 'when' is 'gpu'"),
    ('"""x"""\nSCRIPT = {"reads": ["runs.csv", "later"], "writes": ["t.md"]}\n', "SCRIPT reads ['later']"),
])
def test_a_bad_declaration_names_the_file(tmp_path, source, error):
    (tmp_path / "bad.py").write_text(source)
    (tmp_path / "later.py").write_text('"""x"""\nSCRIPT = {"writes": ["u.md"]}\n')
    with pytest.raises(ValueError, match=r"bad\.py") as e:
        analysis.scripts(("bad", "later"), folder=tmp_path)
    assert error in str(e.value)
    with pytest.raises(FileNotFoundError, match="missing.py: no such analysis script"):
        analysis.scripts(("missing",), folder=tmp_path)


def test_a_script_that_does_not_write_a_declared_file_fails(tmp_path, monkeypatch):
    (tmp_path / "summary").mkdir()
    module = importlib.import_module("analysis.table1_datasets")
    monkeypatch.setattr(module, "write_all", lambda exp: [Path(exp) / "tables" / "table1_datasets.md"])
    result = cli.regenerate(tmp_path, ["table1_datasets"])["table1_datasets"]
    assert isinstance(result, RuntimeError)
    assert "declares ['tables/table1_datasets.csv', 'tables/table1_datasets.tex']" in str(result)
    monkeypatch.setattr(module, "write_all", lambda exp: [Path(exp) / w for w in module.SCRIPT["writes"]])
    assert len(cli.regenerate(tmp_path, ["table1_datasets"])["table1_datasets"]) == 3


def test_a_placeholder_output_is_not_required():
    script = analysis.declaration("table2_main")
    assert script.writes == ("tables/table2_main_{benchmark}.md",)
    assert cli.missing_outputs(script, Path("x"), []) == []


def test_the_command_line_passes_the_experiment_and_the_options(tmp_path, capsys):
    (tmp_path / "summary").mkdir()
    calls = []

    def write_all(exp: Path, readme: Path | None = None) -> list[Path]:
        calls.append((exp, readme))
        return [exp / "tables" / "x.md"]

    assert common.run(write_all, [str(tmp_path)], readme="a README") == 0
    assert common.run(write_all, [str(tmp_path), "--readme", "R.md"], readme="a README") == 0
    assert calls == [(tmp_path, None), (tmp_path, Path("R.md"))]
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "tables" / "x.md")] * 2
    with pytest.raises(SystemExit) as e:  # an option the script does not have
        common.run(write_all, [str(tmp_path), "--snapshot", "S"], readme="a README")
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        common.run(write_all, [str(tmp_path / "nothing")])
    assert e.value.code == 2 and "nothing/summary: no summary folder" in capsys.readouterr().err


def test_the_headline_command_writes_the_readme_section(tmp_path):
    """`python analysis/headline.py EXP --readme README.md`: the README's marked section becomes headline.md."""
    snapshot = ROOT / "snapshots" / "default"
    exp = tmp_path / "default"
    shutil.copytree(snapshot / "summary", exp / "summary", ignore=shutil.ignore_patterns("*.gz"))
    shutil.copytree(snapshot / "tables", exp / "tables", ignore=shutil.ignore_patterns("headline.md"))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{headline.BEGIN}\nold text\n{headline.END}\n\nrest\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(ROOT / "analysis" / "headline.py"), str(exp), "--readme", str(readme)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(exp / "tables" / "headline.md"), str(readme)]
    text = (exp / "tables" / "headline.md").read_text(encoding="utf-8")
    assert text == (snapshot / "tables" / "headline.md").read_text(encoding="utf-8")  # same tables, same text
    assert headline.readme_section(readme.read_text(encoding="utf-8")) == text
    assert readme.read_text(encoding="utf-8").endswith(f"{headline.END}\n\nrest\n")
