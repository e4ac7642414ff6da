"""The tokens an exported model must stop at, written into ``generation_config.json``.

A chat model ends its answer with the template's end-of-turn token (``<|im_end|>``, ``<|eot_id|>``,
``<end_of_turn>``), which is not always the tokenizer's EOS. Generation stops only at ``eos_token_id``, so an
export whose generation config lists only the EOS never stops (pitfall 2). The end-of-turn token is found the same
way for every template: render an assistant turn with a marker as its content and read the token that follows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_MARKER = "Q7ZX9MARKER"


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """The special token(s) the chat template writes right after an assistant's content ([] when none)."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": _MARKER}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    at = text.find(_MARKER)
    if at < 0:
        return []
    tail = text[at + len(_MARKER):]
    if not tail:
        return []
    ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    if ids and ids[0] in special:
        return [ids[0]]
    return []


def stop_token_ids(tokenizer: Any, base_eos: int | list[int] | None = None) -> list[int]:
    """End-of-turn first, then the tokenizer's EOS, then the base model's own EOS: unique, order kept."""
    ids = list(end_of_turn_ids(tokenizer))
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    if base_eos is not None:
        ids.extend(base_eos if isinstance(base_eos, list) else [base_eos])
    return list(dict.fromkeys(ids))


def generation_config_for(tokenizer: Any, base_dir: str | Path | None = None):
    """The base model's generation config (when it is a local directory) with stop and pad tokens set."""
    from transformers import GenerationConfig

    config = None
    if base_dir is not None and (Path(base_dir) / "generation_config.json").is_file():
        config = GenerationConfig.from_pretrained(base_dir)
    if config is None:
        config = GenerationConfig(bos_token_id=tokenizer.bos_token_id)
    ids = stop_token_ids(tokenizer, config.eos_token_id)
    config.eos_token_id = ids[0] if len(ids) == 1 else ids
    config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ids[0]
    return config
