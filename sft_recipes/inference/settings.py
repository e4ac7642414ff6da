"""How to generate, in one object: built once from the recipe's eval section and passed down unchanged.

``transformers.GenerationConfig`` is not used as the carrier: half of these settings (batch size, seed, prefix
sharing, the stop strings we cut at) are not ``model.generate`` arguments, and the stop token ids depend on the
tokenizer and template, so they are added per call. ``generate_kwargs()`` is the part ``model.generate`` takes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from sft_recipes import SFTRecipesError


class GenerationError(SFTRecipesError):
    pass


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 256
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 0.7  # with do_sample only
    top_p: float = 1.0  # with do_sample only
    seed: int = 0  # seeds sampling; with the same batch size a rerun gives the same answers
    stop_strings: Sequence[str] | None = None  # None: the ones the chat template implies
    share_prefixes: bool = True  # encode a long shared prompt opening once (inference/prefix_cache.py)
    task_budgets: bool = True  # scored tasks' answers get budgets from their references (compare.answer_budgets)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise GenerationError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @classmethod
    def from_eval_args(cls, ev, seed: int = 0) -> "GenerationSettings":
        """The recipe's ``eval_*`` decoding keys (``EvalArguments``); ``seed`` is the recipe's training seed."""
        return cls(max_new_tokens=ev.eval_max_new_tokens, batch_size=ev.eval_batch_size,
                   do_sample=ev.eval_do_sample, temperature=ev.eval_temperature, seed=seed,
                   task_budgets=ev.eval_task_budgets)

    @classmethod
    def from_recipe(cls, recipe) -> "GenerationSettings":
        return cls.from_eval_args(recipe.eval, seed=recipe.training.seed)

    def replace(self, **changes: Any) -> "GenerationSettings":
        return dataclasses.replace(self, **changes)

    def generate_kwargs(self) -> dict[str, Any]:
        """The decoding arguments of ``model.generate``: greedy, or sampling with temperature and top-p."""
        if self.do_sample:
            return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p,
                    "max_new_tokens": self.max_new_tokens}
        return {"do_sample": False, "max_new_tokens": self.max_new_tokens}

    def record(self) -> dict[str, Any]:
        """What a report records about the settings (``metrics.json`` ``generation``)."""
        return {"max_new_tokens": self.max_new_tokens, "batch_size": self.batch_size, "do_sample": self.do_sample,
                "temperature": self.temperature if self.do_sample else None, "seed": self.seed,
                "task_budgets": self.task_budgets}
