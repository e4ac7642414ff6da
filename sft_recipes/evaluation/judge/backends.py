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

from sft_recipes import SFTRecipesError, one_line


class JudgeBackendError(SFTRecipesError):
    """A configuration problem that would fail every judgment (missing key, unknown model): stop the run."""


class TransportError(Exception):
    """One request failed after retries (server down, 429/5xx, timeout, a 4xx the server explained): this judgment
    fails, the run goes on. ``requests`` counts the HTTP requests sent for it (retries included); ``deterministic``
    marks a refusal of this exact request (4xx other than 408/409/429) that asking again would only repeat."""

    def __init__(self, message: str, requests: int = 1, deterministic: bool = False) -> None:
        super().__init__(message)
        self.requests = requests
        self.deterministic = deterministic


# A JSON answer the parser reads directly (``response_format``), for servers that support structured output.
VERDICT_JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "judge_verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"explanation": {"type": "string"}, "verdict": {"type": ["string", "number"]}},
            "required": ["explanation", "verdict"],
            "additionalProperties": False,
        },
    },
}
TRANSIENT_STATUS = {408, 409, 429}


@dataclass
class Completion:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None
    retries: int = 0  # transport retries the client made before this reply
    latency: float = 0.0  # seconds, including retries
    requests: int = 1  # HTTP requests sent for this reply (1 + retries)


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
    json_verdict: bool = False  # ask for a JSON verdict through response_format (servers that support it)
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
        self._sent = threading.local()  # HTTP requests sent by the calling thread (retries included)
        http_client = openai.DefaultHttpxClient(event_hooks={"request": [self._count_request]})
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=self.timeout,
                                     max_retries=self.max_retries, http_client=http_client)

    def _count_request(self, request: Any) -> None:
        self._sent.n = getattr(self._sent, "n", 0) + 1

    @property
    def params(self) -> dict[str, Any]:
        # the server address is left out: the same model behind a restarted server answers the same
        params = {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens}
        if self.json_verdict:
            params["response_format"] = "json_verdict"
        return params

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature,
                                  "max_tokens": self.max_tokens}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if self.json_verdict:
            kwargs["response_format"] = VERDICT_JSON_SCHEMA
        start = time.perf_counter()
        self._sent.n = 0
        try:
            raw = self._client.chat.completions.with_raw_response.create(**kwargs)
            response = raw.parse()
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
            raise JudgeBackendError(f"judge server {self.base_url} refused model {self.model!r} "
                                   f"(HTTP {e.status_code}): {server_reason(e)}") from None
        except openai.APIStatusError as e:
            deterministic = e.status_code < 500 and e.status_code not in TRANSIENT_STATUS
            raise TransportError(f"{type(e).__name__}: HTTP {e.status_code}: {server_reason(e)}",
                                 requests=self._sent.n, deterministic=deterministic) from None
        except openai.APIError as e:
            raise TransportError(f"{type(e).__name__}: {one_line(e, 300)}", requests=self._sent.n) from None
        except ValueError as e:  # a 200 whose body is not a chat completion
            raise TransportError(f"unreadable reply from {self.base_url}: {one_line(e, 300)}", requests=self._sent.n) from None
        latency = time.perf_counter() - start
        if not getattr(response, "choices", None):
            raise TransportError(f"reply from {self.base_url} has no choices", requests=self._sent.n)
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=choice.finish_reason,
            retries=raw.retries_taken,
            latency=latency,
            requests=self._sent.n,
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
            raise JudgeBackendError(f"cannot load local judge model {self.model}: {one_line(e, 300)}") from None
        if not self._tokenizer.chat_template:
            raise JudgeBackendError(f"local judge model {self.model} has no chat template")
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        return {"do_sample": False, "max_new_tokens": self.max_new_tokens}

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        """Greedy answer to ``messages``, prompted the way training renders prompts (control-token text from the
        judged answers stays text) and stopped where the template's turn ends (chat/template_info.py)."""
        import torch

        from sft_recipes.inference.generate import encode_prompt, stop_token_ids

        start = time.perf_counter()
        with self._lock:
            ids = encode_prompt(self._tokenizer, messages)
            stops = stop_token_ids(self._tokenizer, self._model)
            input_ids = torch.tensor([ids], device=self._model.device)
            with torch.no_grad():
                output = self._model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    eos_token_id=stops,
                    pad_token_id=self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else stops[0],
                )
        new_tokens = output[0, len(ids):]
        stopped = bool(len(new_tokens)) and int(new_tokens[-1]) in stops
        return Completion(
            text=self._tokenizer.decode(new_tokens, skip_special_tokens=True),
            input_tokens=len(ids),
            output_tokens=int(len(new_tokens)),
            finish_reason="stop" if stopped else "length",
            latency=time.perf_counter() - start,
        )


def server_reason(e: Any) -> str:
    """The server's own explanation of an HTTP error: the ``message`` / ``detail`` of a JSON body (OpenAI, FastAPI
    and vLLM shapes), else the body text, else the client's message."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if isinstance(value, (str, list)) and value:
                return one_line(value if isinstance(value, str) else "; ".join(map(str, value)))
    response = getattr(e, "response", None)
    text = getattr(response, "text", "") if response is not None else ""
    return one_line(text or str(body or "") or str(e))



@dataclass
class BackendSpec:
    """Which judge to use, as the command line or a recipe names it; ``build()`` makes the backend."""

    kind: str  # "openai" | "local" | "llama-cpp"
    model: str  # server model name | local model directory | .gguf file
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"  # None: the server needs no key
    seed: int = 0
    max_tokens: int = 1024
    timeout: float = 120.0
    max_retries: int = 3
    json_verdict: bool = False
    context: int = 4096  # llama-cpp context window

    def build(self) -> Backend:
        if self.kind == "openai":
            if not self.base_url:
                raise JudgeBackendError("the openai judge backend needs a base URL (e.g. http://127.0.0.1:8000/v1)")
            return OpenAIBackend(base_url=self.base_url, model=self.model, api_key_env=self.api_key_env,
                                 seed=self.seed, max_tokens=self.max_tokens, timeout=self.timeout,
                                 max_retries=self.max_retries, json_verdict=self.json_verdict)
        if self.kind == "local":
            return LocalBackend(self.model, max_new_tokens=self.max_tokens)
        if self.kind == "llama-cpp":
            from sft_recipes.evaluation.judge.gguf_backend import LlamaCppBackend

            return LlamaCppBackend(self.model, max_tokens=self.max_tokens, context=self.context, seed=self.seed)
        raise JudgeBackendError(f"unknown judge backend {self.kind!r} (openai, local or llama-cpp)")


def make_backend(args: Any) -> Backend:
    """The backend named by ``sft-recipes judge`` arguments."""
    return BackendSpec(
        kind=args.backend, model=args.model, base_url=args.base_url,
        api_key_env=None if args.no_api_key else args.api_key_env, seed=args.seed, max_tokens=args.max_tokens,
        timeout=args.timeout, max_retries=args.max_retries, json_verdict=args.json_verdict, context=args.context,
    ).build()
