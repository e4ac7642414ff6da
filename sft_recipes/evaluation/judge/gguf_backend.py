"""A local GGUF judge through llama-cpp-python (``pip install 'sft-recipes[gguf-judge]'``): quantized weights run
several times faster on a laptop CPU than a dequantized transformers copy, with the model's own chat template
(read from the GGUF). Greedy decoding with a fixed seed; one request at a time (a lock).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sft_recipes import one_line
from sft_recipes.evaluation.judge.backends import Completion, JudgeBackendError, TransportError


class LlamaCppBackend:
    name = "llama-cpp"

    def __init__(self, gguf_path: str, max_tokens: int = 512, context: int = 4096, seed: int = 0,
                 threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise JudgeBackendError("the llama-cpp judge backend needs llama-cpp-python "
                                    "(pip install 'sft-recipes[gguf-judge]')") from None
        from sft_recipes.evaluation.judge.local_models import resolve_gguf

        path = resolve_gguf(gguf_path)
        if not path.is_file():
            raise JudgeBackendError(f"GGUF judge model not found: {path}")
        self.model = str(path)
        self.max_tokens = max_tokens
        self.context = context
        self.seed = seed
        threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or None
        try:
            self._llm = Llama(model_path=self.model, n_ctx=context, seed=seed, n_threads=threads, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise JudgeBackendError(f"cannot load GGUF judge model {path}: {one_line(e)}") from None
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": self.seed, "max_tokens": self.max_tokens, "context": self.context}

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        start = time.perf_counter()
        with self._lock:
            try:
                out = self._llm.create_chat_completion(messages=messages, temperature=0.0, top_k=1,
                                                       max_tokens=self.max_tokens, seed=self.seed)
            except ValueError as e:  # e.g. the prompt does not fit the context window: the same every time
                raise TransportError(f"llama-cpp: {one_line(e)}", deterministic=True) from None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            latency=time.perf_counter() - start,
        )
