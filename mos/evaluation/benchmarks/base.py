"""The one contract every benchmark implements, and the kinds the built-in benchmarks share.

A benchmark is a dataclass subclass of `Benchmark` that sets `name`; its fields are integer options
a spec may set as `<name>_<field>` (e.g. `math_fewshot`). It says where its data lives, how to read
and check it, which lm-eval tasks score it, how lm-eval's logged samples become per-item scores, and
which rows it adds to `metrics.csv`. `mos evaluate` runs the tasks of every benchmark of a model in
one `lm_eval.simple_evaluate` call. A `judged` benchmark has no tasks: the model answers its
questions by generation (`answer`) and `mos judge` grades them later.

    name       the name in specs, configs and metrics.csv
    path       where the workflow finds the data: a file or a hub id; `{testbed}` is the experiment's
               testbed folder, `{eval[key]}` a key of the config's `eval` section
    hub        the hub dataset lm-eval may read instead of a local file (None: local files only)
    metrics    the metrics it reports; `scopes` the rows between overall and subject (item keys)
    judged     answered by generation, graded by `mos judge`; `references`: each question has exact
               reference answers, so the deterministic `reference` judge can grade it
    load(data) -> the checked data (errors name the file and line); check(loaded): spec-dependent checks
    tasks(loaded, tokenizer, folder, cache_dir) -> lm-eval task configs (dicts) or built-in task names
    items(samples) -> per-item scores: item, subject (and group, skill), one value per metric
    rows(items) -> the metrics.csv rows (default: `mos.evaluation.metrics.metric_rows`)
    answer(generator, loaded, model_id, generation) -> FastChat answer records (judged benchmarks)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from mos.data.records import DataError, read_jsonl
from mos.evaluation.metrics import metric_rows

Samples = Mapping[str, Sequence[Mapping[str, Any]]]  # lm-eval task name -> its logged samples
LABELS = ("subject", "group", "skill")  # the item keys metrics.csv rows are grouped by


class SpecError(ValueError):
    """The evaluation spec is invalid; the message names the key or file."""


def option(default: int, least: int = 0) -> Any:
    """A benchmark option: an integer spec key `<name>_<field>`, at least `least`."""
    return field(default=default, metadata={"least": least})


def spec_integer(spec: Mapping[str, Any], key: str, default: int, least: int) -> int:
    """`spec[key]` (`default` when absent), checked to be an integer >= `least`."""
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SpecError(f"spec.{key} must be an integer >= {least}, got {value!r}")
    return value


@dataclass
class Benchmark:
    """Base class. Subclasses are dataclasses whose fields are their spec options (`option`)."""

    name: ClassVar[str] = ""
    path: ClassVar[str] = ""
    hub: ClassVar[str | None] = None
    metrics: ClassVar[tuple[str, ...]] = ()
    scopes: ClassVar[tuple[str, ...]] = ()
    judged: ClassVar[bool] = False
    references: ClassVar[bool] = False  # judged: every question has exact references (the reference judge)

    def load(self, data: str) -> Any:
        """The benchmark's data from a local file (or the hub id `hub`), checked."""
        raise NotImplementedError

    def check(self, loaded: Any) -> None:
        """Checks that need the spec's options (e.g. shots against the number of problems)."""

    def tasks(self, loaded: Any, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        """lm-eval tasks that score it; rendered data goes to `folder`, dataset caches to `cache_dir`."""
        raise NotImplementedError

    def items(self, samples: Samples) -> list[dict[str, Any]]:
        """Per-item scores from lm-eval's logged samples (the tasks' samples by task name)."""
        raise NotImplementedError

    def rows(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """metrics.csv rows: overall, then `scopes`, then per subject (unweighted means over subjects)."""
        return metric_rows(self.name, items, self.metrics, self.scopes)

    def answer(self, generator: Any, loaded: Any, model_id: str, generation: Mapping[str, Any]) -> list[dict]:
        """FastChat answer records of every question (judged benchmarks only)."""
        raise NotImplementedError(f"benchmark {self.name!r} is scored by lm-eval, not answered")


# ---------------------------------------------------------------- local JSONL items


def check_mc_item(obj: Mapping[str, Any], where: str) -> None:
    """`choices` is a list of at least two strings and `answer` an index into it."""
    choices, answer = obj["choices"], obj["answer"]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise DataError(f"{where}: 'choices' must be a list of at least two strings")
    if not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise DataError(f"{where}: 'answer' {answer!r} is not an index into its {len(choices)} choices")


@dataclass
class JsonlItems(Benchmark):
    """Items from a local JSONL file, every line holding `keys` and passing `check_item`; one task
    named after the benchmark, whose samples carry the items' labels in `doc`."""

    keys: ClassVar[tuple[str, ...]] = ()

    def check_item(self, obj: Mapping[str, Any], where: str) -> None:
        check_mc_item(obj, where)

    def load(self, data: str) -> list[dict[str, Any]]:
        path = Path(data)
        items = []
        for lineno, obj in read_jsonl(path):
            missing = [k for k in self.keys if not isinstance(obj, dict) or k not in obj]
            if missing:
                raise DataError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}")
            self.check_item(obj, f"{path}:{lineno}")
            items.append(obj)
        if not items:
            raise DataError(f"{path}: no items")
        return items

    def items(self, samples: Samples) -> list[dict[str, Any]]:
        return [{"item": str(s["doc_id"]), **{k: s["doc"][k] for k in LABELS if k in s["doc"]},
                 **{m: s[m] for m in self.metrics}} for s in samples[self.name]]


# ---------------------------------------------------------------- hub datasets


def check_hub(name: str, dataset: str, config: str, offline: str) -> None:
    """Fail early, with a clear message, when a hub dataset (one of its configs) cannot be loaded."""
    import datasets

    try:
        datasets.load_dataset_builder(dataset, config)
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        raise SpecError(f"benchmarks.{name} needs the hub dataset {dataset} (downloaded, or in the local "
                        f"Hugging Face cache), which cannot be loaded here ({type(e).__name__}: {e}). "
                        f"Offline, {offline}") from None


class Source(NamedTuple):
    """The data of a built-in lm-eval benchmark: the hub id or a local file, and its problem count."""

    data: str
    problems: int | None  # None: the hub dataset


@dataclass
class Builtin(Benchmark):
    """lm-eval's own task configs (`mos.evaluation.builtin_tasks`) over the hub dataset or a local
    JSONL copy with its `columns`, `fewshot` shots."""

    columns: ClassVar[tuple[str, ...]] = ()
    hub_config: ClassVar[str] = ""  # a config of the hub dataset, loaded to check it is reachable
    fewshot: ClassVar[int] = 5  # subclasses may shadow it with an option

    def load(self, data: str) -> Source:
        path = Path(data)
        if path.is_file():
            n = 0
            for lineno, obj in read_jsonl(path):
                missing = [k for k in self.columns if not isinstance(obj, dict) or k not in obj]
                if missing:
                    raise DataError(f"{path}:{lineno}: missing key(s) {', '.join(missing)} "
                                    f"of a {self.name} problem")
                n += 1
            if not n:
                raise DataError(f"{path}: no items")
            return Source(data, n)
        if data != self.hub:
            raise SpecError(f"benchmarks.{self.name}: expected the hub dataset {self.hub!r} or a local "
                            f"JSONL file; got {data!r}")
        check_hub(self.name, data, self.hub_config, "give a local JSONL copy with the same columns instead.")
        return Source(data, None)

    def check(self, loaded: Source) -> None:
        if loaded.problems is not None and loaded.problems <= self.fewshot:
            raise SpecError(f"spec.benchmarks.{self.name}: {self.fewshot}-shot evaluation of a local file "
                            f"needs more than {self.fewshot} problems, {loaded.data} has {loaded.problems}")

    def tasks(self, loaded: Source, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        from mos.evaluation.builtin_tasks import builtin_task_configs

        return builtin_task_configs(self.name, loaded.data, self.fewshot, cache_dir=cache_dir)

    def subject(self, task: str) -> str:
        """The subject of a task's items."""
        return "all"

    def items(self, samples: Samples) -> list[dict[str, Any]]:
        from mos.evaluation.builtin_tasks import METRICS, TASKS

        items: dict[tuple[str, int], dict[str, Any]] = {}
        for task in TASKS[self.name]:
            for s in samples.get(task, []):
                item = items.setdefault((task, s["doc_id"]), {"item": f"{task}:{s['doc_id']}",
                                                              "subject": self.subject(task)})
                for key, name in METRICS[self.name]:
                    metric, _, filt = key.partition(",")
                    if s.get("filter", "none") == filt and metric in s:
                        item[name] = float(s[metric])
        return list(items.values())


# ---------------------------------------------------------------- two-turn questions, judged


@dataclass
class TwoTurnChat(Benchmark):
    """Questions in FastChat's `question.jsonl` form (`mos.evaluation.chat_bench`), answered turn by
    turn with the spec's `generation` settings; `mos judge` grades the answers. `temperatures`
    (category -> sampling temperature, others `default_temperature`) replaces the settings'
    temperature per category, seeded (MT-Bench); None: the settings' temperature for every question."""

    judged = True
    temperatures: ClassVar[Mapping[str, float] | None] = None
    default_temperature: ClassVar[float] = 0.7

    def load(self, data: str) -> Any:
        from mos.evaluation.chat_bench import load_questions

        return load_questions(data)

    def answer(self, generator: Any, loaded: Any, model_id: str, generation: Mapping[str, Any]) -> list[dict]:
        from mos.evaluation.chat_bench import answer_questions

        return answer_questions(generator, loaded, model_id, generation, self.temperatures, self.default_temperature)

