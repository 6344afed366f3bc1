"""The record format and its error messages (mos.data.records, mos.data.datasets).

    .venv/bin/python -m pytest tests/test_records.py
"""

from __future__ import annotations

import json

import pytest

from mos.data.datasets import adapt, sample_fraction
from mos.data.datasets import main as datasets_main
from mos.data.records import DataError, load_records, validate_record

GOOD = {"id": "a", "conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_valid_file_loads_and_fills_defaults(tmp_path):
    p = write(tmp_path / "d.jsonl", [json.dumps(GOOD), "", json.dumps({"conversations": GOOD["conversations"]})])
    recs = load_records(p)
    assert len(recs) == 2
    assert recs[1]["id"] == "d-3" and recs[1]["source"] == "d"


@pytest.mark.parametrize("line, message", [
    ('{"id": 1, "conversations": [', "d.jsonl:2: invalid JSON"),
    ('{"id": "x"}', "d.jsonl:2: missing key 'conversations'"),
    ('{"conversations": [{"role": "assistant", "content": "a"}]}', "d.jsonl:2: roles must alternate"),
    ('{"conversations": [{"role": "user", "content": "q"}]}', "d.jsonl:2: roles must alternate"),
    ('{"conversations": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}', "d.jsonl:2: roles"),
    ('{"conversations": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}', "content must be"),
    ('[1, 2]', "d.jsonl:2: expected a JSON object"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    p = write(tmp_path / "d.jsonl", [json.dumps(GOOD), line])
    with pytest.raises(DataError, match=message.replace("[", r"\[")):
        load_records(p)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="dataset is empty"):
        load_records(write(tmp_path / "e.jsonl", [""]))
    with pytest.raises(DataError, match="file not found"):
        load_records(tmp_path / "nope.jsonl")


def test_system_message_and_multi_turn_allowed():
    conv = [{"role": "system", "content": "s"}] + GOOD["conversations"] * 2
    assert validate_record({"conversations": conv})


def test_datasets_cli_rejects_bad_file_before_training(tmp_path, capsys):
    bad = write(tmp_path / "bad.jsonl", [json.dumps(GOOD), '{"conversations": 3}'])
    with pytest.raises(SystemExit, match="bad.jsonl:2"):
        datasets_main(["--path", str(bad), "--out", str(tmp_path / "out.jsonl")])
    assert not (tmp_path / "out.jsonl").exists()


def test_hub_adapters_map_to_records(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"},
                               {"from": "human", "value": "dangling"}]},
            {"conversations": [{"from": "gpt", "value": "starts wrong"}]}]
    recs = adapt(rows, "sharegpt")
    assert len(recs) == 1 and [m["role"] for m in recs[0]["conversations"]] == ["user", "assistant"]
    rec = adapt([{"instruction": "Do", "input": "this", "output": "done"}], "medinstruct")[0]
    assert rec["conversations"][0]["content"] == "Do\n\nthis"
    rec = adapt([{"inputs_pretokenized": " x ", "targets_pretokenized": " y", "_subset": "p3_a"}], "p3")[0]
    assert rec["source"] == "p3_a" and rec["conversations"][1]["content"] == "y"
    # a local file with the hub columns goes through the CLI
    src = write(tmp_path / "mi.jsonl", [json.dumps({"instruction": f"q{i}", "output": f"a{i}", "source": "gsm"})
                                        for i in range(20)])
    out = tmp_path / "m.jsonl"
    datasets_main(["--hub", str(src), "--adapter", "mathinstruct", "--fraction", "0.5", "--out", str(out)])
    assert len(load_records(out)) == 10


def test_p3_takes_a_seeded_sample_per_subset_then_the_fraction(tmp_path):
    """P3 as the paper samples it (1K per subset, then 10%), on local files of the hub's columns:
    one file per subset, named like P3's subsets (dots included)."""
    from collections import Counter

    from mos.data.datasets import load_hub_rows

    def subset_file(folder, name, n):
        folder.mkdir(exist_ok=True)
        write(folder / f"{name}.jsonl", [json.dumps({"inputs_pretokenized": f"{name} q{i}", "targets_pretokenized": f"a{i}"})
                                         for i in range(n)])

    p3 = tmp_path / "p3"
    for name, n in [("p3_cos_e_v1.11_explain", 5), ("p3_glue_mrpc_paraphrase", 30), ("p3_wiki_qa_found", 12)]:
        subset_file(p3, name, n)
    rows = load_hub_rows(str(p3), "train", per_subset=10, seed=0)
    assert Counter(r["_subset"] for r in rows) == {"p3_cos_e_v1.11_explain": 5, "p3_glue_mrpc_paraphrase": 10,
                                                    "p3_wiki_qa_found": 10}
    assert rows == load_hub_rows(str(p3), "train", per_subset=10, seed=0)
    assert rows != load_hub_rows(str(p3), "train", per_subset=10, seed=1)
    # a subset's sample does not depend on the other subsets
    subset_file(tmp_path / "p3_one", "p3_glue_mrpc_paraphrase", 30)
    alone = load_hub_rows(str(tmp_path / "p3_one"), "train", per_subset=10, seed=0)
    assert alone == [r for r in rows if r["_subset"] == "p3_glue_mrpc_paraphrase"]
    assert len(load_hub_rows(str(p3), "train", per_subset=None, seed=0)) == 47  # no per-subset step: every row
    # through the CLI, as the workflow's dataset rule runs it: 25 rows per subset sampling, then 50%
    out = tmp_path / "NLP.jsonl"
    datasets_main(["--hub", str(p3), "--adapter", "p3", "--per-subset", "10", "--fraction", "0.5", "--seed", "0",
                   "--out", str(out)])
    records = load_records(out)
    assert len(records) == round(25 * 0.5)
    assert {r["source"] for r in records} <= {"p3_cos_e_v1.11_explain", "p3_glue_mrpc_paraphrase", "p3_wiki_qa_found"}



def write_hub_layout(root, subsets):
    """A local copy of a hub dataset repository as P3 is laid out on the hub: a README.md whose
    `configs` name each subset's parquet shards, `<subset>/train-0000k-of-0000n.parquet`. A shard
    given as None is written as garbage: reading it fails."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir()
    configs = []
    for name, shards in subsets.items():
        (root / name).mkdir()
        for k, n in enumerate(shards):
            f = root / name / f"train-{k:05d}-of-{len(shards):05d}.parquet"
            if n is None:
                f.write_bytes(b"not a parquet file")
                continue
            pq.write_table(pa.table({"inputs": [[1, 2, i] for i in range(n)],
                                     "inputs_pretokenized": [f"{name} q{k}.{i}" for i in range(n)],
                                     "targets": [[3] for _ in range(n)],
                                     "targets_pretokenized": [f"a{i}" for i in range(n)]}), f)
        configs.append(f"- config_name: {name}\n  data_files:\n  - split: train\n    path: {name}/train-*\n")
    (root / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n", encoding="utf-8")


def test_p3_streams_each_subset_and_reads_only_its_window(tmp_path):
    """Issue 11: P3 is never downloaded whole. Each subset is streamed on its own through
    datasets.load_dataset(source, subset, split=..., streaming=True), the call that reads the hub,
    here on a local folder of the hub's layout (offline), and only its first `window` rows are read:
    a subset whose second shard is unreadable loads as long as the window ends in the first."""
    from collections import Counter

    import datasets

    from mos.data.datasets import ADAPTER_COLUMNS, load_hub_rows

    assert datasets.config.HF_HUB_OFFLINE
    hub = tmp_path / "P3"
    write_hub_layout(hub, {"p3_cos_e_v1.11_explain": [5], "p3_glue_mrpc_paraphrase": [30], "p3_big": [30, None]})
    rows = load_hub_rows(str(hub), "train", per_subset=10, seed=0, window=20, columns=ADAPTER_COLUMNS["p3"])
    assert Counter(r["_subset"] for r in rows) == {"p3_cos_e_v1.11_explain": 5, "p3_glue_mrpc_paraphrase": 10,
                                                    "p3_big": 10}
    assert set(rows[0]) == {"inputs_pretokenized", "targets_pretokenized", "_subset"}  # token ids not kept
    big = [r["inputs_pretokenized"] for r in rows if r["_subset"] == "p3_big"]
    assert all(int(x.split(".")[-1]) < 20 for x in big)  # drawn from the window only
    assert rows == load_hub_rows(str(hub), "train", per_subset=10, seed=0, window=20, columns=ADAPTER_COLUMNS["p3"])
    assert rows != load_hub_rows(str(hub), "train", per_subset=10, seed=1, window=20, columns=ADAPTER_COLUMNS["p3"])
    with pytest.raises(Exception, match="[Pp]arquet"):  # a window past the first shard reads the garbage
        load_hub_rows(str(hub), "train", per_subset=10, seed=0, window=100)
    with pytest.raises(DataError, match="smaller than per_subset"):
        load_hub_rows(str(hub), "train", per_subset=10, seed=0, window=5)
    out = tmp_path / "NLP.jsonl"  # the dataset rule's command (default window: 10 x per-subset = 30)
    datasets_main(["--hub", str(hub), "--adapter", "p3", "--per-subset", "3", "--fraction", "1", "--out", str(out)])
    assert Counter(r["source"] for r in load_records(out)) == {"p3_cos_e_v1.11_explain": 3,
                                                               "p3_glue_mrpc_paraphrase": 3, "p3_big": 3}


def test_sample_fraction_is_seeded():
    recs = [{"id": i} for i in range(100)]
    assert sample_fraction(recs, 0.1, 0) == sample_fraction(recs, 0.1, 0)
    assert sample_fraction(recs, 0.1, 0) != sample_fraction(recs, 0.1, 1)
    assert len(sample_fraction(recs, 0.1, 0)) == 10


def test_sharegpt_reads_only_the_named_file_of_its_repository(tmp_path):
    """ShareGPT_Vicuna_unfiltered holds several versions of one dataset as JSON arrays; with
    data_files only the named one is read (here a local folder of the repository's layout, through
    the same datasets.load_dataset(name, data_files=...) call as the hub id); without, both are."""
    from mos.data.datasets import load_hub_rows

    def conv(i):
        return {"id": f"c{i}", "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}]}

    repo = tmp_path / "ShareGPT_Vicuna_unfiltered"
    repo.mkdir()
    (repo / "ShareGPT_V3_unfiltered_cleaned_split.json").write_text(json.dumps([conv(i) for i in range(6)]))
    (repo / "ShareGPT_V3_unfiltered_cleaned_split_no_imsorry.json").write_text(json.dumps([conv(i) for i in range(4)]))
    cleaned = load_hub_rows(str(repo), "train", None, 0, data_files=["ShareGPT_V3_unfiltered_cleaned_split.json"])
    assert [r["id"] for r in cleaned] == [f"c{i}" for i in range(6)]
    assert len(load_hub_rows(str(repo), "train", None, 0)) == 10  # every variant: conversations twice
    out = tmp_path / "General.jsonl"
    datasets_main(["--hub", str(repo), "--data-files", "ShareGPT_V3_unfiltered_cleaned_split.json", "--adapter",
                   "sharegpt", "--fraction", "0.5", "--out", str(out)])
    assert len(load_records(out)) == 3
    with pytest.raises(DataError, match="not found"):
        load_hub_rows(str(repo), "train", None, 0, data_files=["missing.json"])
    with pytest.raises(DataError, match="cannot be combined"):
        load_hub_rows(str(repo), "train", 10, 0, data_files=["ShareGPT_V3_unfiltered_cleaned_split.json"])
