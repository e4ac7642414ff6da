"""Chat templates: the tokenizer's own, or a shipped ChatML / Alpaca fallback, or a user's ``.jinja`` file.

Every template, whatever its family, goes through one mechanism: it is stored on the tokenizer and rendered by
the tokenizer's own ``apply_chat_template`` (sandboxed jinja). Nothing here knows about particular model families;
what a template's end-of-turn token is, is found by rendering a probe conversation and looking at what follows
the assistant's text. That is what generation must stop on, and what masking must train.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError

SHIPPED = ("chatml", "alpaca")
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
ALPACA_STOP_STRINGS = ("### Instruction:",)
# The Alpaca template renders a user turn written as "instruction" + ALPACA_INPUT_SEPARATOR + "input" with its
# input under "### Input:". The separator reads naturally in any other template too ("...\n\nInput:\n...").
ALPACA_INPUT_SEPARATOR = "\n\nInput:\n"
_PROBE_REPLY = "Probe reply 7"


class TemplateError(SFTRecipesError):
    pass


@dataclass
class TemplateInfo:
    """What the rest of the pipeline needs to know about the template a run trains with."""

    name: str  # "auto" templates are named after the tokenizer's own: "native"
    template: str
    new_tokens: list[int] = field(default_factory=list)  # ids added to the vocabulary: resize and train these rows
    end_of_turn: list[str] = field(default_factory=list)  # token(s) closing an assistant turn, trained on
    end_of_turn_ids: list[int] = field(default_factory=list)
    stop_strings: list[str] = field(default_factory=list)  # text that also ends a generated answer
    eos_token: str | None = None
    pad_token: str | None = None
    notes: list[str] = field(default_factory=list)  # things worth a line in the prepare log

    @property
    def stop_token_ids(self) -> list[int]:
        """Generation stops on the end-of-turn token, which is not always the tokenizer's EOS (pitfall 2)."""
        return list(dict.fromkeys(self.end_of_turn_ids))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "new_tokens": self.new_tokens,
            "end_of_turn": self.end_of_turn,
            "end_of_turn_ids": self.end_of_turn_ids,
            "stop_strings": self.stop_strings,
            "eos_token": self.eos_token,
            "pad_token": self.pad_token,
            "notes": self.notes,
        }


def join_instruction_input(instruction: str, input_text: str | None) -> str:
    """One user turn for an instruction with an optional input, in the form the Alpaca template splits again."""
    if input_text and input_text.strip():
        return f"{instruction}{ALPACA_INPUT_SEPARATOR}{input_text}"
    return instruction


def shipped_template(name: str) -> str:
    return resources.files("sft_recipes").joinpath("templates", f"{name}.jinja").read_text(encoding="utf-8")


def special_token_ids(tokenizer) -> set[int]:
    """Ids that can close a turn: named special tokens plus added tokens flagged special."""
    ids = set(tokenizer.all_special_ids)
    ids.update(i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def setup_chat_template(tokenizer, choice: str = "auto") -> TemplateInfo:
    """Put the chosen template on ``tokenizer`` (in place) and describe it.

    ``choice``: "auto" (the tokenizer's own), "chatml", "alpaca", or a path to a ``.jinja`` file.
    """
    if choice == "auto":
        if not tokenizer.chat_template:
            raise TemplateError(
                "the tokenizer has no chat template (a base model?): "
                "set chat_template: chatml | alpaca | path/to/template.jinja"
            )
        name, new_tokens = "native", []
    elif choice == "chatml":
        name, new_tokens = "chatml", _setup_chatml(tokenizer)
    elif choice == "alpaca":
        if tokenizer.eos_token is None:
            raise TemplateError("chat_template: alpaca needs an EOS token to end each response; the tokenizer has none")
        tokenizer.chat_template = _with_bos(tokenizer, shipped_template("alpaca"))
        name, new_tokens = "alpaca", []
    else:
        path = Path(choice).expanduser()
        if not path.is_file():
            raise TemplateError(
                f"chat_template: {choice!r} is neither auto | chatml | alpaca nor an existing .jinja file"
            )
        tokenizer.chat_template = path.read_text(encoding="utf-8")
        name, new_tokens = path.stem, []

    end_of_turn = find_end_of_turn(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = _spare_pad_token(tokenizer)
    stop_strings = list(ALPACA_STOP_STRINGS) if name == "alpaca" else []
    return TemplateInfo(
        name=name,
        template=tokenizer.chat_template,
        new_tokens=new_tokens,
        end_of_turn=tokenizer.convert_ids_to_tokens(end_of_turn),
        end_of_turn_ids=end_of_turn,
        stop_strings=stop_strings,
        eos_token=tokenizer.eos_token,
        pad_token=tokenizer.pad_token,
        notes=_prompt_split_notes(tokenizer),
    )


def _setup_chatml(tokenizer) -> list[int]:
    """ChatML on any tokenizer: its markers become special tokens (new ones get fresh embedding rows) and EOS."""
    from tokenizers import AddedToken

    old_eos = tokenizer.eos_token
    size = len(tokenizer)
    # Also markers that exist as plain vocabulary entries: registered as special, they are never split.
    unregistered = [t for t in CHATML_TOKENS if t not in tokenizer.added_tokens_encoder]
    if unregistered:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in unregistered],
                             special_tokens=True)
    new_ids = [i for i in tokenizer.convert_tokens_to_ids(list(CHATML_TOKENS)) if i >= size]
    tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None and old_eos and old_eos != tokenizer.eos_token:
        tokenizer.pad_token = old_eos  # the base model's own end-of-text: known to the model, never trained as text
    tokenizer.chat_template = _with_bos(tokenizer, shipped_template("chatml"))
    return new_ids


def _with_bos(tokenizer, template: str) -> str:
    """Models whose tokenizer adds a BOS to plain text expect it at the start of a chat too."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return template
    ids = tokenizer("a")["input_ids"]
    if ids and ids[0] == bos:
        return "{{- bos_token -}}\n" + template
    return template


def _spare_pad_token(tokenizer) -> str:
    """A pad for a tokenizer without one, never a new token (that would need an embedding row nobody trains).

    An existing token other than EOS is preferred so that nothing comparing ids against pad_token_id can mistake
    the EOS for padding. Failing that, pad = EOS is safe here: labels come from our spans, never from pad
    positions, and TRL's collator derives attention masks from lengths and pads labels with -100.
    """
    for candidate in (tokenizer.unk_token, tokenizer.bos_token):
        if candidate is not None and candidate != tokenizer.eos_token:
            return candidate
    return tokenizer.eos_token


def find_end_of_turn(tokenizer) -> list[int]:
    """The special token(s) a template puts right after an assistant reply (``<|im_end|>``, ``<|eot_id|>``, EOS...)."""
    probe = [{"role": "user", "content": "Probe question"}, {"role": "assistant", "content": _PROBE_REPLY}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception as e:  # jinja errors of a user's template
        reason = " ".join(str(e).split())
        raise TemplateError(f"chat template failed to render a user/assistant exchange: {reason}") from None
    end = text.rfind(_PROBE_REPLY)
    if end < 0:
        raise TemplateError("chat template does not render the assistant's text verbatim")
    end += len(_PROBE_REPLY)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    special = special_token_ids(tokenizer)
    for token_id, (start, _) in zip(enc["input_ids"], enc["offset_mapping"]):
        if start >= end and token_id in special:
            return [token_id]
    raise TemplateError(
        "chat template puts no special token after an assistant reply: a model trained on it never learns to stop "
        "(use chat_template: chatml, or end assistant turns with the EOS token)"
    )


def _prompt_split_notes(tokenizer) -> list[str]:
    """Does the generation prompt tokenize alone as it does with a reply after it?

    Some tokenizers split trailing whitespace by what follows (GPT-2's pre-tokenizer keeps "\n\n" whole at the end
    of a text, but splits it before a word). Training sees the conversation tokenized as a whole; inference sees the
    prompt alone. Labels are unaffected; the model only sees a slightly different prompt split at inference.
    """
    probe = [{"role": "user", "content": "Probe question"}, {"role": "assistant", "content": _PROBE_REPLY}]
    prompt = tokenizer.apply_chat_template(probe[:1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(probe, tokenize=False)
    alone = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    inside = tokenizer(full, add_special_tokens=False)["input_ids"][: len(alone) + 1]
    if inside[: len(alone)] == alone or not full.startswith(prompt):
        return []
    tail = next(i for i, (a, b) in enumerate(zip(alone, inside)) if a != b)
    return [
        f"the generation prompt's end is tokenized {tokenizer.convert_ids_to_tokens(alone[tail:])} alone but "
        f"{tokenizer.convert_ids_to_tokens(inside[tail:len(alone) + 1])} before a reply (training sees the latter)"
    ]
