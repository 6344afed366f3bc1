"""Tests of the MMLU dev parser (mos.evaluation.mmlu_dev) against the installed lm-eval package.

    .venv/bin/python -m pytest tests/test_mmlu_dev.py
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from mos.evaluation.mmlu_dev import main, parse_mmlu_dev, parse_sample, subject_groups


@pytest.fixture(scope="module")
def parsed():
    return parse_mmlu_dev()


def test_table7_groups():
    groups = subject_groups()
    assert len(groups) == 57
    by_group = Counter(groups.values())
    assert by_group == {"Mathematics": 5, "Medicine": 9, "Others": 43}
    assert groups["abstract_algebra"] == "Mathematics" and groups["virology"] == "Medicine"


def test_all_57_subjects_parse_into_four_choice_items(parsed):
    items, skipped = parsed
    per_subject = Counter(i["subject"] for i in items)
    assert set(per_subject) == set(subject_groups())
    assert all(3 <= n <= 5 for n in per_subject.values())
    assert len(items) >= 270
    assert skipped == {"college_chemistry": 1}  # the one upstream sample with five options
    assert len({i["id"] for i in items}) == len(items)
    groups = subject_groups()
    for item in items:
        assert set(item) == {"id", "subject", "group", "question", "choices", "answer"}
        assert item["group"] == groups[item["subject"]]
        assert len(item["choices"]) == 4 and all(isinstance(c, str) and c for c in item["choices"])
        assert item["answer"] in range(4)
        assert item["question"] and "(A)" not in item["question"] and "(D)" not in item["question"]
    subjects_per_group = Counter(g for s, g in {(i["subject"], i["group"]) for i in items})
    assert subjects_per_group == {"Mathematics": 5, "Medicine": 9, "Others": 43}


def test_known_item(parsed):
    items, _ = parsed
    first = next(i for i in items if i["subject"] == "abstract_algebra" and "Z_3" in i["question"])
    assert first["question"] == "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field."
    assert first["choices"] == ["0", "1", "2", "3"] and first["answer"] == 1


def test_parse_sample_layouts():
    inline = parse_sample("What is 1+1?\n(A) 1 (B) 2 (C) 3 (D) 4", "Let's think. 1+1=2. The answer is (B).")
    assert inline == ("What is 1+1?", ["1", "2", "3", "4"], 1)
    lines = parse_sample("Pick one.\n(A) x y\n(B) (z)\n(C) w\n(D) v.", "The answer is (A). Wait, the answer is (D).")
    assert lines == ("Pick one.", ["x y", "(z)", "w", "v."], 3)
    assert parse_sample("Q?\n(A) 1 (B) 2 (C) 3 (D) 4 (E) 5", "The answer is (E).") is None
    assert parse_sample("Q?\n(A) 1 (B) 2 (C) 3", "The answer is (A).") is None
    assert parse_sample("Q?\n(A) 1 (B) 2 (C) 3 (D) 4", "No conclusion.") is None


def test_cli_writes_jsonl(tmp_path, capsys):
    out = tmp_path / "mmlu_dev" / "mmlu_dev.jsonl"
    main(["--out", str(out)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len({r["subject"] for r in rows}) == 57
    assert "57 subjects" in capsys.readouterr().out
