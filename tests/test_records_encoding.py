"""Text encodings of data files (issue 9, item 3): bytes that are not UTF-8 are a DataError naming
`file:line: not valid UTF-8 (byte 0x.. at column N)`, like every other data error, on every path that
reads a record or JSONL file; a UTF-8 byte-order mark at the start of a file (as Windows editors
write it) is accepted.

    .venv/bin/python -m pytest tests/test_records_encoding.py -q
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mos.common.io import BOM
from mos.data.datasets import main as dataset_main
from mos.data.records import DataError, load_records, read_jsonl, utf8_error
from mos.data.tokenized import load_dataset_file
from mos.data.tokenizer import load_tokenizer_dir
from mos.evaluation.benchmarks import read_items
from mos.evaluation.chat_bench import load_questions
from mos.evaluation.judges.base import load_templates
from mos.evaluation.judges.cache import JudgmentCache
from mos.pipeline.descriptives import StatsError, dataset_stats

GOOD = {"id": "a", "conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def good_line(content: str = "hello") -> bytes:
    rec = {**GOOD, "conversations": [GOOD["conversations"][0], {"role": "assistant", "content": content}]}
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


def column(line: bytes) -> int:
    """The 1-based byte column of a line's first byte >= 0x80 (the bad one in these tests)."""
    return next(i for i, b in enumerate(line) if b >= 0x80) + 1


def latin1_line() -> tuple[bytes, int]:
    """A record whose response is Latin-1 'café' (0xe9 is not UTF-8 here); and the 1-based byte
    column of the 0xe9."""
    line = good_line("caf\u00e9").replace("é".encode(), b"\xe9")
    return line, line.index(b"\xe9") + 1


def test_a_latin1_byte_names_file_line_and_column(tmp_path):
    bad, col = latin1_line()
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"\n".join([good_line(), b"", bad, good_line()]) + b"\n")
    with pytest.raises(DataError) as e:
        load_records(p)
    assert str(e.value) == f"{p}:3: not valid UTF-8 (byte 0xe9 at column {col})"


def test_lines_and_columns_count_as_text_mode_does(tmp_path):
    """CRLF and CR line ends, multi-byte characters before the bad byte (the column counts bytes),
    a BOM on the first line (not counted), and a bad byte far past the reader's first chunk."""
    p = tmp_path / "w.jsonl"
    p.write_bytes(BOM + b"\r\n".join([good_line("\u00fcber"), good_line(), good_line()]) + b"\r\n")
    assert [n for n, _ in read_jsonl(p)] == [1, 2, 3] and utf8_error(p) is None
    p.write_bytes(BOM + b"\xff rest")
    assert str(utf8_error(p)) == f"{p}:1: not valid UTF-8 (byte 0xff at column 1)"
    p.write_bytes(b"{}\r{}\r\n{}\n" + "\u00fc\u00fc".encode() + b"\xc3(")  # 4 bytes of ü then a cut ü
    with pytest.raises(DataError, match=r"w\.jsonl:4: not valid UTF-8 \(byte 0xc3 at column 5\)"):
        list(read_jsonl(p))
    filler = b"\n".join(good_line() for _ in range(500))  # ~45 KB: several of the text reader's chunks
    bad, col = latin1_line()
    p.write_bytes(filler + b"\n" + bad + b"\n")
    with pytest.raises(DataError, match=rf"w\.jsonl:501: not valid UTF-8 \(byte 0xe9 at column {col}\)"):
        load_records(p)


def test_a_bom_at_the_start_is_accepted_elsewhere_it_is_bad_json(tmp_path):
    plain, bom = tmp_path / "plain.jsonl", tmp_path / "bom.jsonl"
    plain.write_bytes(good_line() + b"\n" + good_line("more") + b"\n")
    bom.write_bytes(BOM + plain.read_bytes())
    assert [r["conversations"] for r in load_records(bom)] == [r["conversations"] for r in load_records(plain)]
    mid = tmp_path / "mid.jsonl"
    mid.write_bytes(good_line() + b"\n" + BOM + good_line() + b"\n")
    with pytest.raises(DataError, match=r"mid\.jsonl:2: invalid JSON"):
        load_records(mid)


def test_the_dataset_command_validates_encodings_before_training(tmp_path):
    """`python -m mos dataset --path` is how a user's training file enters the pipeline."""
    bad_line, col = latin1_line()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(good_line() + b"\n" + bad_line + b"\n")
    with pytest.raises(SystemExit, match=rf"^error: .*bad\.jsonl:2: not valid UTF-8 \(byte 0xe9 at column {col}\)$"):
        dataset_main(["--path", str(bad), "--out", str(tmp_path / "out.jsonl")])
    assert not (tmp_path / "out.jsonl").exists()
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(BOM + good_line("\u00e9t\u00e9") + b"\n")
    dataset_main(["--path", str(bom), "--out", str(tmp_path / "out.jsonl")])
    out = (tmp_path / "out.jsonl").read_bytes()
    assert not out.startswith(BOM) and json.loads(out)["conversations"][1]["content"] == "\u00e9t\u00e9"
    # a local file of a hub dataset's columns goes through the datasets library's JSON loader
    hub = tmp_path / "hub.jsonl"
    line = b'{"instruction": "caf\xe9", "output": "b"}'
    hub.write_bytes(b'{"instruction": "q", "output": "a"}\n' + line + b"\n")
    with pytest.raises(SystemExit, match=rf"hub\.jsonl:2: not valid UTF-8 \(byte 0xe9 at column {column(line)}\)"):
        dataset_main(["--hub", str(hub), "--adapter", "mathinstruct", "--out", str(tmp_path / "h.jsonl")])


def test_the_records_command_prints_one_line_not_a_traceback(tmp_path):
    bad_line, col = latin1_line()
    bad, bom = tmp_path / "bad.jsonl", tmp_path / "bom.jsonl"
    bad.write_bytes(bad_line + b"\n")
    bom.write_bytes(BOM + good_line() + b"\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}

    def records(path):
        return subprocess.run([sys.executable, "-m", "mos", "records", str(path)], capture_output=True, text=True,
                              env=env, timeout=120)

    done = records(bad)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: {bad}:1: not valid UTF-8 (byte 0xe9 at column {col})"
    done = records(bom)
    assert done.returncode == 0 and done.stdout.strip() == f"{bom}: 1 records OK", done.stderr


def test_the_training_loader_and_table1_stats(tmp_path, tokenizer_dir):
    bad_line, col = latin1_line()
    bad = tmp_path / "Medicine.jsonl"
    bad.write_bytes(good_line() + b"\n" + bad_line + b"\n")
    tok = load_tokenizer_dir(tokenizer_dir)
    message = rf"Medicine\.jsonl:2: not valid UTF-8 \(byte 0xe9 at column {col}\)"
    with pytest.raises(DataError, match=message):
        load_dataset_file("Medicine", bad, tok, "response", 64)
    with pytest.raises(StatsError, match=message):
        dataset_stats({"Medicine": bad})
    docs = tmp_path / "corpus.jsonl"  # the `documents` format (pretraining text)
    line = b'{"text": "tw\xf6"}'
    docs.write_bytes(BOM + b'{"text": "one"}\n' + line + b"\n")
    with pytest.raises(DataError, match=rf"corpus\.jsonl:2: not valid UTF-8 \(byte 0xf6 at column {column(line)}\)"):
        load_dataset_file("corpus", docs, tok, "all", 64, fmt="documents")
    docs.write_bytes(BOM + b'{"text": "one"}\n{"text": "two"}\n')
    assert len(load_dataset_file("corpus", docs, tok, "all", 64, fmt="documents")) == 2
    docs.write_bytes(b'{"text": "one"}\n{"txt": "two"}\n')
    with pytest.raises(DataError, match=r"corpus\.jsonl:2: expected an object with a string 'text'"):
        load_dataset_file("corpus", docs, tok, "all", 64, fmt="documents")


def test_evaluation_readers(tmp_path):
    q = tmp_path / "q.jsonl"
    line = b'{"question_id": 2, "category": "x", "turns": ["\x93quoted\x94", "b"]}'  # cp1252 quotes
    q.write_bytes(b'{"question_id": 1, "category": "x", "turns": ["a", "b"]}\n' + line + b"\n")
    with pytest.raises(DataError, match=rf"q\.jsonl:2: not valid UTF-8 \(byte 0x93 at column {column(line)}\)"):
        load_questions(q)
    q.write_bytes(BOM + b'{"question_id": 1, "category": "x", "turns": ["a", "b"]}\n')
    assert len(load_questions(q)) == 1
    mc = tmp_path / "mc.jsonl"
    line = b'{"question": "caf\xe9?", "choices": ["a", "b"], "answer": 0}'
    mc.write_bytes(line + b"\n")
    with pytest.raises(DataError, match=rf"mc\.jsonl:1: not valid UTF-8 \(byte 0xe9 at column {column(line)}\)"):
        read_items(mc, "testbed_mc")
    prompts = tmp_path / "judge_prompts.jsonl"
    line = b'{"name": "single-v1", "system_prompt": "\xa0", "prompt_template": "x"}'
    prompts.write_bytes(line + b"\n")
    with pytest.raises(DataError, match=rf"judge_prompts\.jsonl:1: not valid UTF-8 \(byte 0xa0 at column {column(line)}\)"):
        load_templates(prompts)


def test_a_torn_judgment_cut_inside_a_character_is_skipped(tmp_path):
    """A crash can cut a cached judgment in the middle of a multi-byte character; that line is torn
    (skipped), not a crash of every later read."""
    path = tmp_path / "c.jsonl"
    JudgmentCache(path).put("k1", {"raw": "[[5]]"})
    with open(path, "ab") as f:
        f.write('{"key": "k2", "raw": "caf\u00e9'.encode()[:-1])  # the é cut after its first byte
    JudgmentCache(path).put("k3", {"raw": "[[6]]"})  # closes the torn line, appends after it
    cache = JudgmentCache(path)
    assert cache.get("k3")["raw"] == "[[6]]" and cache.get("k2") is None and cache.torn_lines == 1


def test_config_and_spec_files_that_are_not_utf8_name_the_byte(tmp_path):
    """The experiment config and a --spec @file get the same message as data files; a BOM is fine."""
    from mos.common.spec import read_spec
    from mos.pipeline.config import ConfigError, load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"experiment: demo\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: not valid UTF-8 \(byte 0xe9 at column 6\)"):
        load_config(cfg)
    cfg.write_bytes(BOM + b"experiment: demo\n")
    assert load_config(cfg)["experiment"] == "demo"
    spec = tmp_path / "s.json"
    spec.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(SystemExit, match=r"s\.json:1: not valid UTF-8 \(byte 0xff at column 8\)"):
        read_spec(f"@{spec}")
    spec.write_bytes(BOM + b'{"a": 1}')
    assert read_spec(f"@{spec}") == {"a": 1}
