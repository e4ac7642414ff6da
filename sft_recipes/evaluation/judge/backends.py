"""Where judge replies come from: any OpenAI-compatible server, or a local transformers model.

A backend turns chat messages into a reply. It describes itself (``name``, ``model``, ``params``) so the cache
can key replies on everything that changes them. Transport failures raise ``TransportError`` after the
backend's own retries; the runner records them as failed judgments and never caches them.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sft_recipes import SFTRecipesError


class JudgeBackendError(SFTRecipesError):
    """A configuration problem that would fail every judgment (missing key, unknown model): stop the run."""


class TransportError(Exception):
    """One request failed after retries (server down, 429/5xx, timeout): this judgment fails, the run goes on."""


@dataclass
class Completion:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None
    retries: int = 0  # transport retries the client made before this reply
    latency: float = 0.0  # seconds, including retries


class Backend(Protocol):
    name: str
    model: str

    @property
    def params(self) -> dict[str, Any]: ...

    def complete(self, messages: list[dict[str, str]]) -> Completion: ...


@dataclass
class OpenAIBackend:
    """An OpenAI-compatible ``/v1/chat/completions`` server through the ``openai`` client.

    The client retries connection errors, timeouts, 408/409/429 and 5xx with exponential backoff
    (0.5 s doubling, capped at 8 s, with jitter) and honours ``Retry-After`` / ``retry-after-ms`` up to
    two minutes; ``max_retries`` bounds it. Decoding is greedy (temperature 0) with a fixed seed so a
    rerun asks for the same thing the cache stored.
    """

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"  # None: the server needs no key
    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int = 1024
    timeout: float = 120.0
    max_retries: int = 3
    name: str = field(default="openai", init=False)

    def __post_init__(self) -> None:
        import openai

        if self.api_key_env is None:
            api_key = "no-key"
        else:
            api_key = os.environ.get(self.api_key_env)
            if not api_key:
                raise JudgeBackendError(
                    f"the judge API key variable {self.api_key_env} is not set "
                    "(export it, name another with --api-key-env, or pass --no-api-key for a server without keys)"
                )
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key, timeout=self.timeout, max_retries=self.max_retries
        )

    @property
    def params(self) -> dict[str, Any]:
        # the server address is left out: the same model behind a restarted server answers the same
        return {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens}

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature,
                                  "max_tokens": self.max_tokens}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        start = time.perf_counter()
        try:
            raw = self._client.chat.completions.with_raw_response.create(**kwargs)
            response = raw.parse()
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise JudgeBackendError(f"judge server {self.base_url} refused model {self.model!r}: {_one_line(e)}") from None
        except openai.APIError as e:
            raise TransportError(f"{type(e).__name__}: {_one_line(e)}") from None
        except ValueError as e:  # a 200 whose body is not a chat completion
            raise TransportError(f"unreadable reply from {self.base_url}: {_one_line(e)}") from None
        latency = time.perf_counter() - start
        if not getattr(response, "choices", None):
            raise TransportError(f"reply from {self.base_url} has no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=choice.finish_reason,
            retries=raw.retries_taken,
            latency=latency,
        )


class LocalBackend:
    """A local transformers causal LM, prompted with its own chat template, decoded greedily.

    One model serves one request at a time (a lock), so runner concurrency only overlaps bookkeeping.
    """

    name = "local"

    def __init__(self, model_path: str, max_new_tokens: int = 512, device: str = "cpu") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = str(model_path)
        self.max_new_tokens = max_new_tokens
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model)
            self._model = AutoModelForCausalLM.from_pretrained(self.model).to(device).eval()
        except OSError as e:
            raise JudgeBackendError(f"cannot load local judge model {self.model}: {_one_line(e)}") from None
        if not self._tokenizer.chat_template:
            raise JudgeBackendError(f"local judge model {self.model} has no chat template")
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        return {"do_sample": False, "max_new_tokens": self.max_new_tokens}

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        import torch

        start = time.perf_counter()
        with self._lock:
            inputs = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
            ).to(self._model.device)
            prompt_length = inputs["input_ids"].shape[1]
            with torch.no_grad():
                output = self._model.generate(
                    **inputs,
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
                )
        new_tokens = output[0, prompt_length:]
        stopped = bool(len(new_tokens)) and int(new_tokens[-1]) in _stop_ids(self._model, self._tokenizer)
        return Completion(
            text=self._tokenizer.decode(new_tokens, skip_special_tokens=True),
            input_tokens=int(prompt_length),
            output_tokens=int(len(new_tokens)),
            finish_reason="stop" if stopped else "length",
            latency=time.perf_counter() - start,
        )


def _stop_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300]
