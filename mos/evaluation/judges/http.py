"""An LLM judge behind any OpenAI-compatible chat-completions endpoint (GPT-4 as in the paper, or a
model served locally with `transformers serve`, vLLM or llama.cpp).

    judge = HTTPJudge(base_url="https://api.openai.com/v1", model="gpt-4-0613",
                      api_key_env="OPENAI_API_KEY", cache=JudgmentCache(".../judgments.jsonl"))
    judge.grade(tasks, samples=3)      # 3 judgments per answer (sampled at `temperature`)

Every request is plain HTTP (`POST {base_url}/chat/completions`, JSON in and out). The API key is
read from the environment variable named by `api_key_env` at request time and sent only in the
Authorization header: it is never stored on the object's public config, in a cache record, in a
log line or in an exception message. Each judgment is looked up in the content-addressed cache
first and stored there as soon as it arrives, so a crash loses nothing and a rerun makes no call.
Requests run `concurrency` at a time; timeouts, dropped connections, HTTP 429 and 5xx, and
malformed bodies are retried with exponential backoff (honouring Retry-After), up to
`max_retries` times; other 4xx fail at once. A judgment that still fails is not recorded: the call
raises `JudgeError` after every other judgment of the batch is finished and cached.

Reasoning models (OpenAI's o-series and gpt-5 family) take `max_completion_tokens` instead of
`max_tokens` and refuse any `temperature` but their default: with `reasoning` true (default: judged
from the model name, `is_reasoning_model`) the request carries `max_completion_tokens` and no
`temperature` or `seed`, and the token budget defaults to `REASONING_MAX_TOKENS`, as their hidden
reasoning is counted in it.

The judge's model is pinned like the local judge's (`mos.evaluation.judges.pin`): `revision` and/or
`sha256` in the config, checked against what the server reports in `GET {base_url}/models` for the
model where it reports one (a `revision`, `sha256` or `digest` field; vLLM and `transformers serve`
report none), else taken from the server. The pin, and the server's description of the model (`root`,
`owned_by`, where given), are recorded with every judgment; the pin is part of the cache key.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mos.evaluation.judges.base import (
    GradingTask,
    JudgeError,
    Judgment,
    PairTask,
    Preference,
    grading_messages,
    load_templates,
    pairwise_messages,
    parse_rating,
    parse_verdict,
)
from mos.evaluation.judges.cache import JudgmentCache, content_key
from mos.evaluation.judges.pin import merge_pins, served_pin

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# OpenAI's reasoning models (o1, o3-mini, o4-mini, gpt-5, gpt-5-mini, ...), with or without a provider prefix
REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?(?:o\d+(?:$|[-_.])|gpt-5)", re.IGNORECASE)
DEFAULT_MAX_TOKENS, REASONING_MAX_TOKENS = 512, 4096
SERVED_FIELDS = ("id", "root", "parent", "owned_by")  # recorded from GET /models, where present


def is_reasoning_model(model: str) -> bool:
    """Whether a model name looks like an OpenAI reasoning model (o-series, gpt-5 family)."""
    return bool(REASONING_MODEL.match(model))


class _Retryable(Exception):
    """A failure worth another try; `wait` is the server's Retry-After, if any."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class ChatClient:
    """Minimal OpenAI-compatible chat-completions client with retries."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = None, timeout: float = 60.0,
                 max_retries: int = 6, backoff: float = 1.0, max_backoff: float = 60.0):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.timeout, self.max_retries, self.backoff, self.max_backoff = timeout, max_retries, backoff, max_backoff
        self.calls = 0  # HTTP requests sent (tests count them)
        self._rng = random.Random(0)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise JudgeError(f"judge: environment variable {self.api_key_env} (the API key) is not set")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, messages: list[dict[str, str]], temperature: float | None, max_tokens: int,
                 seed: int | None = None, token_parameter: str = "max_tokens") -> str:
        """The reply to `messages`; `temperature` None sends none (reasoning models refuse it) and the
        budget goes in `token_parameter` (`max_tokens`, or `max_completion_tokens` for reasoning models)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, token_parameter: max_tokens}
        if temperature is not None:
            body["temperature"] = temperature
        if seed is not None:
            body["seed"] = seed
        data = json.dumps(body).encode("utf-8")
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            try:
                return self._post(data)
            except _Retryable as e:
                last = str(e)
                if attempt == self.max_retries:
                    break
                delay = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + self._rng.random() / 2)
                time.sleep(max(delay, e.wait or 0.0))
        raise JudgeError(f"judge request to {self.url} failed after {self.max_retries + 1} attempts: {last}")

    def models(self) -> list[dict[str, Any]] | None:
        """The server's `GET /models` list (None when it has none or cannot be reached; one try)."""
        url = self.url[:-len("/chat/completions")] + "/models"
        try:
            request = urllib.request.Request(url, headers=self._headers(), method="GET")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read()).get("data")
        except (JudgeError, urllib.error.URLError, http.client.HTTPException, OSError, ValueError, AttributeError):
            return None
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else None

    def _post(self, data: bytes) -> str:
        self.calls += 1
        request = urllib.request.Request(self.url, data=data, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            if e.code in RETRYABLE_STATUS:
                raise _Retryable(f"HTTP {e.code}", _retry_after(e.headers.get("Retry-After"))) from None
            detail = e.read()[:300].decode("utf-8", "replace")
            raise JudgeError(f"judge request to {self.url} was refused: HTTP {e.code}: {detail}") from None
        except TimeoutError as e:
            raise _Retryable(f"timed out after {self.timeout} s") from e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise _Retryable(f"connection failed ({type(e).__name__}: {reason})") from None
        try:
            payload = json.loads(raw)
            content = payload["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError):
            raise _Retryable(f"malformed response body: {raw[:120]!r}") from None
        if not isinstance(content, str):
            raise _Retryable("malformed response body: message content is not text")
        return content


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), 300.0) if value else None
    except ValueError:
        return None


class HTTPJudge:
    """Single-answer grading and pairwise comparison through a `ChatClient`, cached by content."""

    def __init__(self, base_url: str, model: str, cache: JudgmentCache, api_key_env: str | None = None,
                 templates: str | None = None, temperature: float = 0.0, max_tokens: int | None = None,
                 concurrency: int = 8, timeout: float = 60.0, max_retries: int = 6, backoff: float = 1.0,
                 name: str | None = None, reasoning: bool | None = None, revision: str | None = None,
                 sha256: str | dict[str, str] | None = None):
        self.client = ChatClient(base_url, model, api_key_env, timeout, max_retries, backoff)
        self.templates = load_templates(templates)
        self.cache, self.concurrency = cache, max(1, concurrency)
        self.reasoning = is_reasoning_model(model) if reasoning is None else bool(reasoning)
        self.temperature = temperature
        self.max_tokens = max_tokens or (REASONING_MAX_TOKENS if self.reasoning else DEFAULT_MAX_TOKENS)
        self.name = name or model.replace("/", "_")
        self._config_pin = {k: v for k, v in (("revision", revision), ("sha256", sha256)) if v is not None}
        self._pin: dict[str, Any] | None = None
        self.served: dict[str, Any] | None = None
        self.public_config = {"kind": "http", "base_url": base_url, "model": model, "api_key_env": api_key_env,
                              "templates": str(templates or "default"), "temperature": temperature,
                              "max_tokens": self.max_tokens, "reasoning": self.reasoning, **self._config_pin}

    @property
    def pin(self) -> dict[str, Any]:
        """The model's pin: the config's, checked against what the server reports (asked once)."""
        if self._pin is None:
            entry = next((m for m in self.client.models() or [] if m.get("id") == self.client.model), None)
            self.served = {k: entry[k] for k in SERVED_FIELDS if entry.get(k) is not None} if entry else None
            self._pin = merge_pins(self._config_pin, served_pin(entry),
                                   f"the server at {self.client.url} (model {self.client.model})")
            self.public_config = {**self.public_config, "pin": self._pin, "served": self.served}
        return self._pin

    def _identity(self) -> dict[str, Any]:
        """What determines a reply besides the prompt: model, pin, decoding (the cache key's judge part)."""
        identity: dict[str, Any] = {"judge": "http", "model": self.client.model, "temperature": self.temperature,
                                    "max_tokens": self.max_tokens}
        if self.reasoning:  # no temperature is sent; the budget goes in max_completion_tokens
            identity.update(temperature=None, token_parameter="max_completion_tokens")
        if self.pin:
            identity["pin"] = self.pin
        return identity

    def _ask(self, jobs: list[tuple[str, list[dict[str, str]], int, str]]) -> dict[str, str]:
        """Send every uncached (key, messages, sample, template) job; returns key -> reply text."""
        replies: dict[str, str] = {}
        todo, queued = [], set()
        for key, messages, sample, template in jobs:
            hit = self.cache.get(key)
            if hit is not None:
                replies[key] = hit["raw"]
            elif key not in queued:
                queued.add(key)
                todo.append((key, messages, sample, template))
        errors: list[str] = []

        def one(job: tuple[str, list[dict[str, str]], int, str]) -> None:
            key, messages, sample, template = job
            try:
                if self.reasoning:
                    raw = self.client.complete(messages, None, self.max_tokens,
                                               token_parameter="max_completion_tokens")
                else:
                    raw = self.client.complete(messages, self.temperature, self.max_tokens,
                                               seed=sample if self.temperature > 0 else None)
            except JudgeError as e:
                errors.append(str(e))
                return
            self.cache.put(key, {"judge": self._identity(), "served": self.served, "template": template,
                                 "sample": sample, "raw": raw})
            replies[key] = raw

        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(one, todo))
        if errors:
            raise JudgeError(f"{len(errors)} of {len(todo)} judgments failed (the other {len(todo) - len(errors)} "
                             f"are cached; rerun to retry the rest); first error: {errors[0]}")
        return replies

    def grade(self, tasks: Sequence[GradingTask], samples: int = 1) -> list[list[Judgment]]:
        jobs, keys = [], []
        for task in tasks:
            template, messages = grading_messages(self.templates, task)
            row = []
            for k in range(samples):
                key = content_key({**self._identity(), "messages": messages, "sample": k})
                jobs.append((key, messages, k, template.name))
                row.append(key)
            keys.append(row)
        cached = {key for key, *_ in jobs if key in self.cache}
        replies = self._ask(jobs)
        return [[Judgment(parse_rating(replies[key]), replies[key], k, key in cached) for k, key in enumerate(row)]
                for row in keys]

    def compare(self, pairs: Sequence[PairTask]) -> list[Preference]:
        jobs, keys = [], []
        for pair in pairs:
            template, messages = pairwise_messages(self.templates, pair)
            key = content_key({**self._identity(), "messages": messages, "sample": 0})
            jobs.append((key, messages, 0, template.name))
            keys.append(key)
        cached = {key for key in keys if key in self.cache}
        replies = self._ask(jobs)
        return [Preference(parse_verdict(replies[key]), replies[key], key in cached) for key in keys]
