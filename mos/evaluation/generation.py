"""Text generation behind one interface: transformers `generate` (CPU or GPU) and vLLM (GPU only).

    from mos.evaluation.generation import GenerationSettings, make_generator
    gen = make_generator("results/default/runs/tiny-llama/uniform/seed0/model",
                         GenerationSettings(backend="transformers", max_new_tokens=64, batch_size=32))
    replies = gen.chat([[{"role": "user", "content": "Reverse: red blue."}]])   # -> [Completion]

Both backends render each conversation with the model's own chat template (the one it was trained
with, see `mos.data.tokenizer.load_tokenizer`) plus the generation prompt, decode greedily unless
`temperature > 0` (then sampling is seeded), and stop at the end-of-sequence token or after
`max_new_tokens`. The transformers backend pads on the left and generates conversations in
batches of `batch_size`, longest prompts first, so that a batch holds prompts of similar length;
results come back in input order. vLLM is imported only when its backend is asked for (it is an
optional, GPU-only extra: `pip install -e ".[vllm]"` in its own environment); every setting it is
given is ours (`gpu_memory_utilization` included, which lm-eval's vLLM wrapper no longer
defaults), and the generator's `engine` (vLLM's version, its batch-invariant mode
VLLM_BATCH_INVARIANT) is recorded with every answer (`mos.evaluation.chat_bench`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

Message = Mapping[str, str]
Conversation = Sequence[Message]
BACKENDS = ("transformers", "vllm")


@dataclass(frozen=True)
class GenerationSettings:
    """How to generate: backend, length, batching and decoding (greedy when temperature is 0)."""

    backend: str = "transformers"
    max_new_tokens: int = 64
    batch_size: int = 32
    temperature: float = 0.0
    seed: int = 0
    dtype: str = "auto"                  # auto: float32 on CPU, bfloat16 on GPU
    gpu_memory_utilization: float = 0.85  # vLLM only
    tensor_parallel_size: int = 1         # vLLM only
    max_model_len: int | None = None      # vLLM only (None: the model's own)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"generation.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("generation.max_new_tokens and generation.batch_size must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"generation.temperature must be >= 0, got {self.temperature}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GenerationSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d or {}) - known)
        if unknown:
            raise ValueError(f"generation: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**dict(d or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    """One generated reply: its text, how many tokens were generated and why generation stopped."""

    text: str
    n_tokens: int
    finish_reason: str  # "stop" (end token) or "length" (max_new_tokens)


class Generator(Protocol):
    """What every backend offers."""

    settings: GenerationSettings

    def chat(self, conversations: Sequence[Conversation], temperature: float | None = None,
             seed: int | None = None) -> list[Completion]:
        """The assistant's next reply to each conversation (each ends with a user turn); `temperature`
        and `seed` replace the settings' for this call."""
        ...


def render_prompts(tokenizer: Any, conversations: Sequence[Conversation]) -> list[str]:
    """Each conversation through the chat template, ending with the generation prompt."""
    return [tokenizer.apply_chat_template([dict(m) for m in conv], tokenize=False, add_generation_prompt=True)
            for conv in conversations]


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


class TransformersGenerator:
    """Batched `model.generate` with left padding (greedy by default)."""

    def __init__(self, model: str, settings: GenerationSettings, device: str | None = None,
                 chat_template: str | None = None):
        import torch

        from mos.data.tokenizer import load_tokenizer
        from mos.models.backbones import load_model

        self.settings = settings
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = load_tokenizer(model, chat_template)
        self.model = load_model(model, dtype=_torch_dtype(settings.dtype, self.device)).to(self.device).eval()
        self.eos_ids = self._eos_ids()

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = list(ids) if isinstance(ids, list | tuple) else ([] if ids is None else [ids])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def chat(self, conversations: Sequence[Conversation], temperature: float | None = None,
             seed: int | None = None) -> list[Completion]:
        prompts = render_prompts(self.tokenizer, conversations)
        return self.complete(prompts, temperature, seed)

    def complete(self, prompts: Sequence[str], temperature: float | None = None,
                 seed: int | None = None) -> list[Completion]:
        """Continue each rendered prompt (special tokens in the prompt text are kept as such); sampled
        at `temperature` (default: the settings') with the generator seeded per batch from `seed`."""
        import torch

        temperature = self.settings.temperature if temperature is None else temperature
        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        out: list[Completion | None] = [None] * len(prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        generator_seed = self.settings.seed if seed is None else seed
        for start in range(0, len(order), self.settings.batch_size):
            batch = order[start:start + self.settings.batch_size]
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                mask[row, width - len(encoded[i]):] = 1
            kwargs: dict[str, Any] = {"max_new_tokens": self.settings.max_new_tokens, "eos_token_id": self.eos_ids,
                                      "pad_token_id": pad}
            if temperature > 0:
                torch.manual_seed(generator_seed + start)
                kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
            else:
                kwargs.update(do_sample=False)
            with torch.no_grad():
                generated = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                                **kwargs)[:, width:].cpu()
            for row, i in enumerate(batch):
                out[i] = self._completion(generated[row].tolist())
        return [c for c in out if c is not None]

    def _completion(self, tokens: list[int]) -> Completion:
        stop = next((k for k, t in enumerate(tokens) if t in self.eos_ids), None)
        kept = tokens if stop is None else tokens[:stop]
        text = self.tokenizer.decode(kept, skip_special_tokens=True).strip()
        return Completion(text, len(kept) + (stop is not None), "length" if stop is None else "stop")


class VLLMGenerator:
    """vLLM's offline engine (GPU). Prompts are rendered with our tokenizer, so the chat template
    is exactly the one used in training."""

    def __init__(self, model: str, settings: GenerationSettings, chat_template: str | None = None):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as e:  # pragma: no cover - depends on the machine
            raise RuntimeError("generation.backend 'vllm' needs the vllm package (GPU only): "
                               "pip install -e '.[vllm]' in an environment of its own") from e
        from mos.common.provenance import vllm_provenance
        from mos.data.tokenizer import load_tokenizer

        self.settings = settings
        self.engine = vllm_provenance()  # recorded with the answers: batch invariance decides reruns
        self.tokenizer = load_tokenizer(model, chat_template)
        kwargs: dict[str, Any] = {"model": model, "tokenizer": model, "seed": settings.seed,
                                  "gpu_memory_utilization": settings.gpu_memory_utilization,
                                  "tensor_parallel_size": settings.tensor_parallel_size, "trust_remote_code": False}
        if settings.dtype != "auto":
            kwargs["dtype"] = settings.dtype
        if settings.max_model_len:
            kwargs["max_model_len"] = settings.max_model_len
        self.llm = LLM(**kwargs)
        self._sampling_params = SamplingParams
        self.params = self._params(settings.temperature, settings.seed)

    def _params(self, temperature: float, seed: int) -> Any:
        """vLLM's sampling parameters at `temperature`, every request seeded with `seed`."""
        return self._sampling_params(temperature=temperature, max_tokens=self.settings.max_new_tokens, seed=seed,
                                     stop_token_ids=[self.tokenizer.eos_token_id], skip_special_tokens=True)

    def chat(self, conversations: Sequence[Conversation], temperature: float | None = None,
             seed: int | None = None) -> list[Completion]:
        prompts = render_prompts(self.tokenizer, conversations)
        return self.complete(prompts, temperature, seed)

    def complete(self, prompts: Sequence[str], temperature: float | None = None,
                 seed: int | None = None) -> list[Completion]:
        from vllm.inputs import TokensPrompt

        inputs = [TokensPrompt(prompt_token_ids=self.tokenizer(p, add_special_tokens=False)["input_ids"])
                  for p in prompts]
        params = self.params if temperature is None and seed is None else self._params(
            self.settings.temperature if temperature is None else temperature,
            self.settings.seed if seed is None else seed)
        results = self.llm.generate(inputs, params, use_tqdm=False)
        out = []
        for r in results:
            o = r.outputs[0]
            out.append(Completion(o.text.strip(), len(o.token_ids), "stop" if o.finish_reason == "stop" else "length"))
        return out


def make_generator(model: str, settings: GenerationSettings, chat_template: str | None = None) -> Generator:
    """The backend named by `settings.backend` for the model folder (or hub id); `chat_template`
    (Jinja text) replaces the tokenizer's own, as in `mos.data.tokenizer.load_tokenizer`."""
    if settings.backend == "vllm":
        return VLLMGenerator(model, settings, chat_template)
    return TransformersGenerator(model, settings, chat_template=chat_template)

