"""The original chat templates of today's model families, as TRL ships them (``trl/chat_templates/*.jinja``), each on
the real SmolLM2 tokenizer with the family's special tokens added (the ``<|...|>``-style literals of the template,
flagged special the way the family's own tokenizer flags them; XML-like tags such as ``<think>`` stay text).

Vision-only templates, whose messages must be lists of content blocks, are left out."""

from __future__ import annotations

import re
from pathlib import Path

import trl

TEMPLATES = Path(trl.__file__).parent / "chat_templates"
VISION_ONLY = {"idefics3", "llava_next", "smolvlm"}
_SPECIAL = re.compile(r'<[|｜][^<>\s]{0,40}?[|｜]>|<\|[a-z_"]+>|<[a-z_"]+\|>|<(?:start|end)_of_turn>|\[gMASK\]|<sop>')
# The family's BOS and EOS token text, as its tokenizer names them.
_NAMES = {
    "cohere": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"), "deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "gemma": ("<bos>", "<eos>"), "diffusion_gemma": ("<bos>", "<eos>"), "glm4moe": (None, "<|endoftext|>"),
    "gptoss": ("<|startoftext|>", "<|return|>"), "lfm2": ("<|startoftext|>", "<|im_end|>"),
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"), "muse": ("<|begin_of_text|>", "<|eot|>"),
    "nemotron": (None, "<|im_end|>"), "phi3": ("<s>", "<|endoftext|>"), "qwen": (None, "<|im_end|>"),
}


def families() -> list[str]:
    """Every original (not ``*_training``) template TRL ships, except the vision-only ones."""
    names = sorted(p.stem for p in TEMPLATES.glob("*.jinja") if not p.stem.endswith("_training"))
    return [n for n in names if n not in VISION_ONLY]


def training_variant(name: str) -> str | None:
    """TRL's ``{% generation %}``-marked variant of a family's template, when it ships one."""
    path = TEMPLATES / f"{name}_training.jinja"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def family_tokenizer(base, name: str, template: str | None = None):
    """``base`` (a SmolLM2 tokenizer, copied) with the family's special tokens, BOS/EOS and template set."""
    import copy

    from tokenizers import AddedToken

    tokenizer = copy.deepcopy(base)
    text = template or (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    bos, eos = next(v for k, v in _NAMES.items() if name.startswith(k))
    literals = sorted({m.group(0) for m in _SPECIAL.finditer(text)} | {t for t in (bos, eos) if t})
    new = [t for t in literals if t not in tokenizer.get_vocab()]
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in new], special_tokens=True)
    tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token = bos, eos, eos
    tokenizer.chat_template = text
    return tokenizer
