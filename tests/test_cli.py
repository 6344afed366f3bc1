"""The command line `python -m mos <command>`: every command imports and describes itself, and a
mistyped command is refused with a suggestion.

    pytest tests/test_cli.py
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from mos.__main__ import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_main(name):
    module = importlib.import_module(COMMANDS[name][0])
    assert callable(getattr(module, "main", None)), f"{COMMANDS[name][0]} has no main(argv)"


def test_help_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_command_suggests_the_closest(capsys):
    assert main(["trian"]) == 2
    assert "Did you mean 'train'?" in capsys.readouterr().err


def test_a_command_runs_as_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "mos", "strategies"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "temperature" in proc.stdout and "mos " in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "mos", "config", "check"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "mos config check" in bad.stderr and "required" in bad.stderr
