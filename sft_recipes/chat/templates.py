"""Choose the chat template a run trains with: the tokenizer's own, a shipped ChatML / Alpaca one, or a ``.jinja`` file.

Every template, whatever its family, goes through one mechanism: it is stored on the tokenizer and rendered by the
tokenizer's own ``apply_chat_template`` (sandboxed jinja). What it does (which tokens end a turn, whether it has a
system role, renders reasoning or tools) is observed by ``template_info.describe_template``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from sft_recipes.chat.template_info import TemplateError, TemplateInfo, describe_template

SHIPPED = ("chatml", "alpaca")
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
ALPACA_STOP_STRINGS = ("### Instruction:",)
# The Alpaca template renders a user turn written as "instruction" + ALPACA_INPUT_SEPARATOR + "input" with its
# input under "### Input:". The separator reads naturally in any other template too ("...\n\nInput:\n...").
ALPACA_INPUT_SEPARATOR = "\n\nInput:\n"


def join_instruction_input(instruction: str, input_text: str | None) -> str:
    """One user turn for an instruction with an optional input, in the form the Alpaca template splits again."""
    if input_text and input_text.strip():
        return f"{instruction}{ALPACA_INPUT_SEPARATOR}{input_text}"
    return instruction


def shipped_template(name: str) -> str:
    return resources.files("sft_recipes.chat").joinpath(f"{name}.jinja").read_text(encoding="utf-8")


def trl_template(family: str) -> str:
    """The original chat template of a model family as TRL ships it (``trl/chat_templates/<family>.jinja``)."""
    import difflib

    import trl

    folder = Path(trl.__file__).parent / "chat_templates"
    names = sorted(p.stem for p in folder.glob("*.jinja") if not p.stem.endswith("_training"))
    if family not in names:
        close = difflib.get_close_matches(family, names, n=1)
        hint = f" (did you mean trl:{close[0]}?)" if close else f" (one of: {', '.join(names)})"
        raise TemplateError(f"chat_template: TRL ships no template {family!r}{hint}")
    return (folder / f"{family}.jinja").read_text(encoding="utf-8")


def setup_chat_template(tokenizer, choice: str = "auto", template_kwargs: dict[str, Any] | None = None
                        ) -> TemplateInfo:
    """Put the chosen template on ``tokenizer`` (in place) and describe it.

    ``choice``: "auto" (the tokenizer's own), "chatml", "alpaca", ``trl:<family>`` (a family's original template as
    TRL ships it, e.g. ``trl:gemma3`` for a Gemma 3 base model), a path to a ``.jinja`` file, or the template text
    itself (a string holding jinja, as TRL and the alignment-handbook allow).
    """
    stop_strings: list[str] = []
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
        name, new_tokens, stop_strings = "alpaca", [], list(ALPACA_STOP_STRINGS)
    elif choice.startswith("trl:"):
        tokenizer.chat_template = trl_template(choice[4:])
        name, new_tokens = choice, []
    elif "{%" in choice or "{{" in choice:
        tokenizer.chat_template = choice
        name, new_tokens = "inline", []
    else:
        path = Path(choice).expanduser()
        if path.is_dir():  # a tokenizer directory (TRL's chat_template_path accepts one): its template
            tokenizer.chat_template = _template_of_directory(path)
            return _finish(tokenizer, path.name, template_kwargs)
        if not path.is_file():
            raise TemplateError(
                f"chat_template: {choice!r} is neither auto | chatml | alpaca nor an existing .jinja file"
            )
        tokenizer.chat_template = path.read_text(encoding="utf-8")
        name, new_tokens = path.stem, []

    if tokenizer.pad_token is None:
        tokenizer.pad_token = _spare_pad_token(tokenizer)
    return describe_template(tokenizer, name, new_tokens, template_kwargs, stop_strings)


def _template_of_directory(path: Path) -> str:
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(str(path)).chat_template
    if not template:
        raise TemplateError(f"chat_template: the tokenizer in {path} has no chat template")
    return template if isinstance(template, str) else template.get("default", next(iter(template.values())))


def _finish(tokenizer, name: str, template_kwargs) -> TemplateInfo:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = _spare_pad_token(tokenizer)
    return describe_template(tokenizer, name, [], template_kwargs, [])


# Not trl.clone_chat_template: it loads a source tokenizer by name (no Hub here) and resizes a model, and this stage
# (prepare) has only the tokenizer; the model's new rows are added when training loads it.
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
    positions, and TRL's collator derives attention masks from lengths and pads labels with IGNORE_INDEX.
    """
    for candidate in (tokenizer.unk_token, tokenizer.bos_token):
        if candidate is not None and candidate != tokenizer.eos_token:
            return candidate
    return tokenizer.eos_token
