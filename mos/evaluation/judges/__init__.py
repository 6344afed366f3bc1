"""Judges of generated answers, behind one interface (`mos.evaluation.judges.base.Judge`).

    from mos.evaluation.judges import build_judge
    judge = build_judge({"kind": "http", "base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4",
                         "api_key_env": "OPENAI_API_KEY"})
    judge.grade(tasks, samples=3); judge.compare(pairs)

Kinds (the `eval.judge` section of a config; workflow/schemas/config.schema.yaml lists every key):

- `reference` (`mos.evaluation.judges.reference`): deterministic rating against exact reference answers (the
  testbed's two-turn prompts); the embedded default.
- `http` (`mos.evaluation.judges.http`): any OpenAI-compatible chat-completions endpoint (GPT-4 as in the
  paper, a reasoning model, or an open-weights model served by vLLM / `transformers serve`); key from
  the environment variable `api_key_env`; cached, retried, k samples; optionally pinned (`revision`,
  `sha256`), checked against what the server reports.
- `local` (`mos.evaluation.judges.local`): an open-weights transformers chat model in-process, scoring
  the candidate ratings; it must be pinned by `sha256` (of its weight files) and/or `revision` (hub).

Every judgment is cached by content (`mos.evaluation.judges.cache`): the judge's model and pin, its
decoding settings and the rendered prompt (template, questions, answers, references).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mos.evaluation.judges.base import Judge, JudgeError
from mos.evaluation.judges.cache import JudgmentCache

KINDS = ("reference", "http", "local")
DEFAULT_CACHE = "resources/judge_cache/judgments.jsonl"
HTTP_KEYS = ("base_url", "model", "api_key_env", "templates", "temperature", "max_tokens", "concurrency",
             "timeout", "max_retries", "backoff", "name", "reasoning", "revision", "sha256")
LOCAL_KEYS = ("model", "templates", "name", "revision", "sha256")
REFERENCE_KEYS = ("scoring",)
COMMON_KEYS = ("kind", "samples", "cache")


def check_judge_config(config: Mapping[str, Any], where: str = "eval.judge") -> str:
    """The judge's kind, after checking its keys (unknown kinds and keys, missing model, URL or pin
    are errors naming the key); nothing is loaded or contacted."""
    kind = config.get("kind", "reference")
    if kind not in KINDS:
        raise ValueError(f"{where}.kind: unknown judge {kind!r}; valid: {', '.join(KINDS)}")
    allowed = set(COMMON_KEYS) | set({"http": HTTP_KEYS, "local": LOCAL_KEYS, "reference": REFERENCE_KEYS}[kind])
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ValueError(f"{where}: key(s) {', '.join(unknown)} do not apply to kind {kind!r}; "
                         f"valid: {', '.join(sorted(allowed))}")
    if kind == "reference":
        return kind
    for key in ("model",) + (("base_url",) if kind == "http" else ()):
        if not config.get(key):
            raise ValueError(f"{where}.{key} is required for kind {kind!r}")
    if kind == "local" and config.get("sha256") is None and config.get("revision") is None:
        raise ValueError(f"{where}: a local judge is pinned to its weights: set {where}.sha256 "
                         f"(`python -m mos judge pin {config['model']}` prints it) and/or {where}.revision "
                         "(a hub repository's commit)")
    return kind


def build_judge(config: Mapping[str, Any]) -> Judge:
    """A judge from its config section (`check_judge_config` first)."""
    kind = check_judge_config(config)
    if kind == "reference":
        from mos.evaluation.judges.reference import ReferenceJudge

        return ReferenceJudge(config.get("scoring") or "graded")
    cache = JudgmentCache(config.get("cache") or DEFAULT_CACHE)
    params = {k: config[k] for k in (HTTP_KEYS if kind == "http" else LOCAL_KEYS) if config.get(k) is not None}
    if kind == "http":
        from mos.evaluation.judges.http import HTTPJudge

        return HTTPJudge(cache=cache, **params)
    from mos.evaluation.judges.local import LocalJudge

    return LocalJudge(cache=cache, **params)


__all__ = ["KINDS", "Judge", "JudgeError", "JudgmentCache", "build_judge", "check_judge_config"]
