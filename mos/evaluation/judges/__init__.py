"""Judges of generated answers, behind one interface (`mos.evaluation.judges.base.Judge`).

    from mos.evaluation.judges import build_judge
    judge = build_judge({"kind": "http", "base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4",
                         "api_key_env": "OPENAI_API_KEY"})
    judge.grade(tasks, samples=3); judge.compare(pairs)

Kinds (the `eval.judge` section of a config; workflow/schemas/config.schema.yaml lists every key):

- `reference` (`mos.evaluation.judges.reference`): deterministic rating against exact reference answers (the
  testbed's two-turn prompts); the embedded default.
- `http` (`mos.evaluation.judges.http`): any OpenAI-compatible chat-completions endpoint (GPT-4 as in the
  paper); key from the environment variable `api_key_env`; cached, retried, k samples.
- `local` (`mos.evaluation.judges.local`): a local transformers chat model scoring the candidate ratings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mos.evaluation.judges.base import Judge, JudgeError
from mos.evaluation.judges.cache import JudgmentCache

KINDS = ("reference", "http", "local")
DEFAULT_CACHE = "resources/judge_cache/judgments.jsonl"
HTTP_KEYS = ("base_url", "model", "api_key_env", "templates", "temperature", "max_tokens", "concurrency",
             "timeout", "max_retries", "backoff", "name")
LOCAL_KEYS = ("model", "templates", "name")
REFERENCE_KEYS = ("scoring",)
COMMON_KEYS = ("kind", "samples", "cache")


def build_judge(config: Mapping[str, Any]) -> Judge:
    """A judge from its config section; unknown kinds and keys are errors naming the key."""
    kind = config.get("kind", "reference")
    if kind not in KINDS:
        raise ValueError(f"eval.judge.kind: unknown judge {kind!r}; valid: {', '.join(KINDS)}")
    allowed = set(COMMON_KEYS) | set({"http": HTTP_KEYS, "local": LOCAL_KEYS, "reference": REFERENCE_KEYS}[kind])
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ValueError(f"eval.judge: key(s) {', '.join(unknown)} do not apply to kind {kind!r}; "
                         f"valid: {', '.join(sorted(allowed))}")
    if kind == "reference":
        from mos.evaluation.judges.reference import ReferenceJudge

        return ReferenceJudge(config.get("scoring") or "graded")
    for key in ("model",) + (("base_url",) if kind == "http" else ()):
        if not config.get(key):
            raise ValueError(f"eval.judge.{key} is required for kind {kind!r}")
    cache = JudgmentCache(config.get("cache") or DEFAULT_CACHE)
    params = {k: config[k] for k in (HTTP_KEYS if kind == "http" else LOCAL_KEYS) if config.get(k) is not None}
    if kind == "http":
        from mos.evaluation.judges.http import HTTPJudge

        return HTTPJudge(cache=cache, **params)
    from mos.evaluation.judges.local import LocalJudge

    return LocalJudge(cache=cache, **params)


__all__ = ["KINDS", "Judge", "JudgeError", "JudgmentCache", "build_judge"]
