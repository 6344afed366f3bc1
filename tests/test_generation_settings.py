"""Evaluation settings that must not move with lm-eval's or vLLM's defaults: lm-eval pinned to the
tested minor, greedy generation stated in every generating task, and vLLM's batch-invariant mode
recorded with the answers it generates (vLLM itself replaced by a recorder: it needs a GPU).

    pytest tests/test_generation_settings.py -q
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from mos.common.provenance import vllm_provenance
from mos.evaluation.benchmarks import testbed_math as eval_tasks  # (a module: pytest would collect its task)
from mos.evaluation.builtin_tasks import MAX_GEN_TOKS, builtin_task_configs
from mos.evaluation.chat_bench import Question, answer_questions
from mos.evaluation.generation import GenerationSettings, make_generator

ROOT = Path(__file__).resolve().parents[1]


def test_lm_eval_is_pinned_to_the_installed_minor_in_both_environments() -> None:
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((ROOT / "workflow" / "envs" / "mos.yaml").read_text())["dependencies"][-1]["pip"]
    for listing in (deps, conda):
        (spec,) = [Requirement(d).specifier for d in listing if Requirement(d).name == "lm-eval"]
        installed = importlib.metadata.version("lm_eval")
        assert spec.contains(installed), (spec, installed)
        major, minor = map(int, installed.split(".")[:2])
        assert not spec.contains(f"{major}.{minor + 1}.0"), f"{spec} admits the next minor of lm-eval"


@pytest.mark.parametrize("benchmark", ["gsm8k", "math"])
def test_builtin_tasks_state_greedy_generation(benchmark: str) -> None:
    for cfg in builtin_task_configs(benchmark, {"gsm8k": "openai/gsm8k", "math": "EleutherAI/hendrycks_math"}[benchmark]):
        gen = cfg["generation_kwargs"]
        assert gen["do_sample"] is False and gen["temperature"] == 0.0 and gen["max_gen_toks"] == MAX_GEN_TOKS, gen
        assert gen["until"]  # lm-eval's own stop strings are kept


def test_testbed_math_states_greedy_generation(tmp_path: Path) -> None:
    gen = eval_tasks.testbed_math_task(tmp_path / "math.jsonl", ["</s>"], 32)["generation_kwargs"]
    assert gen == {"until": ["</s>"], "max_gen_toks": 32, "do_sample": False, "temperature": 0.0}


@pytest.mark.parametrize(("value", "on"), [(None, False), ("0", False), ("1", True), ("2", True), ("yes", False)])
def test_vllm_batch_invariance_is_read_as_vllm_reads_it(monkeypatch, value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv("VLLM_BATCH_INVARIANT", raising=False)
    else:
        monkeypatch.setenv("VLLM_BATCH_INVARIANT", value)
    record = vllm_provenance()
    assert record["batch_invariant"] is on and record["VLLM_BATCH_INVARIANT"] == value and "vllm" in record


class RecordingVLLM:
    """The parts of the vllm package the generator uses, recording what it is given."""

    def __init__(self) -> None:
        self.engine_kwargs: dict = {}
        self.sampling: dict = {}
        rec = self

        class LLM:
            def __init__(self, **kwargs):
                rec.engine_kwargs = kwargs

            def generate(self, inputs, params, use_tqdm=False):
                out = types.SimpleNamespace(text=" ok", token_ids=[1, 2], finish_reason="stop")
                return [types.SimpleNamespace(outputs=[out]) for _ in inputs]

        def sampling_params(**kwargs):
            rec.sampling = kwargs
            return kwargs

        self.module = types.SimpleNamespace(LLM=LLM, SamplingParams=sampling_params)
        self.inputs = types.SimpleNamespace(TokensPrompt=lambda prompt_token_ids: prompt_token_ids)


def test_vllm_answers_record_the_batch_invariant_mode_and_explicit_settings(monkeypatch, tiny_model_dir) -> None:
    fake = RecordingVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake.module)
    monkeypatch.setitem(sys.modules, "vllm.inputs", fake.inputs)
    monkeypatch.setenv("VLLM_BATCH_INVARIANT", "1")
    settings = GenerationSettings(backend="vllm", max_new_tokens=8, gpu_memory_utilization=0.7)
    generator = make_generator(str(tiny_model_dir), settings)
    assert fake.engine_kwargs["gpu_memory_utilization"] == 0.7 and fake.engine_kwargs["seed"] == 0
    assert fake.sampling["temperature"] == 0.0 and fake.sampling["max_tokens"] == 8
    records = answer_questions(generator, [Question("1", "writing", ("Hi.", "More."))], "m", settings.to_dict())
    assert records[0]["engine"]["batch_invariant"] is True and records[0]["engine"]["VLLM_BATCH_INVARIANT"] == "1"
    assert records[0]["choices"][0]["turns"] == ["ok", "ok"]


def test_transformers_answers_carry_no_engine_record(tiny_model_dir) -> None:
    settings = GenerationSettings(backend="transformers", max_new_tokens=2)
    records = answer_questions(make_generator(str(tiny_model_dir), settings), [Question("1", "w", ("Hi.",))], "m")
    assert "engine" not in records[0]
