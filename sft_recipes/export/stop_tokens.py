"""The tokens an exported model must stop at, written into ``generation_config.json``.

A chat model ends its answer with the template's end-of-turn token (``<|im_end|>``, ``<|eot_id|>``,
``<end_of_turn>``), which is not always the tokenizer's EOS. Generation stops only at ``eos_token_id``, so an
export whose generation config lists only the EOS never stops (pitfall 2). The end-of-turn tokens are the ones the
run trained on: its ``TemplateInfo`` (chat/template_info.py), saved beside its tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sft_recipes.chat.template_info import TemplateInfo, stop_token_ids, template_info_for


def end_of_turn_ids(tokenizer: Any, template: TemplateInfo | None = None) -> list[int]:
    """The token(s) that close an assistant turn of the tokenizer's chat template ([] without a template)."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    return list((template or template_info_for(tokenizer)).end_of_turn_ids)


def generation_config_for(tokenizer: Any, base_dir: str | Path | None = None, template: TemplateInfo | None = None):
    """The base model's generation config (when it is a local directory) with stop and pad tokens set."""
    from transformers import GenerationConfig

    config = None
    if base_dir is not None and (Path(base_dir) / "generation_config.json").is_file():
        config = GenerationConfig.from_pretrained(base_dir)
    if config is None:
        config = GenerationConfig(bos_token_id=tokenizer.bos_token_id)
    ids = stop_token_ids(tokenizer, template, config.eos_token_id)
    config.eos_token_id = ids[0] if len(ids) == 1 else ids
    config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ids[0]
    return config
