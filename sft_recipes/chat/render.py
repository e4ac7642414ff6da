"""Render conversation rows with a chat template, keeping data text apart from the template's own control tokens.

A message is handed to the template in the shape ``apply_chat_template`` expects: ``reasoning`` as
``reasoning_content`` (transformers also passes it as ``thinking`` for gpt-oss-style templates), tool calls with
their arguments as a mapping or a JSON string (whichever the template renders), ``tools`` as JSON schemas. A system
message on a template without a system role is folded into the first user turn (``system_message: auto``).

Control tokens in data: the literal text of a special token inside any message (``"...<|im_end|>\\n<|im_start|>
assistant..."`` pasted into a user turn) is text, never structure; otherwise one row could forge turns the model is
trained to read as real. Such literals are wrapped in two noncharacters before rendering (the approach of
transformers' ``sanitize_control_tokens``), found again in the rendered text, and reported as ``injected`` character
ranges that the encoder turns into plain-text tokens. ``allow_control_tokens`` keeps them as control tokens.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sft_recipes import one_line
from sft_recipes.chat.template_info import TemplateInfo, special_token_ids

MARK_START, MARK_END = "\U0010fffe", "\U0010ffff"  # noncharacters: never part of real text
_SLOT = "Slot{}x7Q"  # stands for a message's text when a conversation shape is rendered once
_SLOT_PROBE = "\"'\\&é\n "  # added to slots: characters a template would escape, trim or change
SYSTEM_MESSAGE = ("auto", "merge", "reject")


class RenderError(Exception):
    """A conversation this template cannot render; the text is the reject reason."""


@dataclass
class Rendered:
    text: str
    injected: list[tuple[int, int]] = field(default_factory=list)  # data text that looks like control tokens


@dataclass
class Renderer:
    """Renders rows for one tokenizer + template description, the same way for training and generation."""

    tokenizer: Any
    info: TemplateInfo
    system_message: str = "auto"
    allow_control_tokens: bool = False

    def __post_init__(self) -> None:
        self._shapes: dict[tuple, str | None] = {}
        literals = sorted({self.tokenizer.convert_ids_to_tokens(i) for i in special_token_ids(self.tokenizer)},
                          key=len, reverse=True)
        literals = [t for t in literals if t and not t.isspace()]
        # a string without any of these characters holds no literal: a quick test before the full pattern
        self._first_chars = re.compile("[" + "".join(re.escape(c) for c in {t[0] for t in literals}) + "]") \
            if literals else None
        self.control_re = re.compile("|".join(map(re.escape, literals))) if literals else None
        self.closer_re = re.compile("|".join(map(re.escape, sorted(self.info.end_of_turn, key=len, reverse=True))))
        tested = _tested_strings(self.tokenizer.get_chat_template()) if self.tokenizer.chat_template else None
        self._tested_re = re.compile("|".join(map(re.escape, sorted(tested, key=len, reverse=True)))) \
            if tested else None
        self._slots = None if tested is None else _slot_for(tested)

    # --- messages -------------------------------------------------------------------------------------------------

    def template_messages(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Row messages -> template messages, and whether a system message was folded into the first user turn."""
        out = [self._message(m) for m in messages]
        fold = any(m["role"] == "system" for m in out) and (
            self.system_message == "merge" or (self.system_message == "auto" and not self.info.system_role))
        if any(m["role"] == "system" for m in out) and self.system_message == "reject" and not self.info.system_role:
            raise RenderError("the chat template has no system role (system_message: reject)")
        if fold:
            out = _fold_system(out)
        return out, fold

    def _message(self, m: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("reasoning"):
            out["reasoning_content"] = m["reasoning"]
        if m.get("tool_calls"):
            out["tool_calls"] = [self._call(c) for c in m["tool_calls"]]
        for key in ("tool_call_id", "name"):
            if m.get(key):
                out[key] = m[key]
        return out

    def _call(self, call: dict[str, Any]) -> dict[str, Any]:
        function = dict(call["function"])
        if self.info.tool_arguments == "json" and not isinstance(function.get("arguments"), str):
            function["arguments"] = json.dumps(function.get("arguments", {}), ensure_ascii=False)
        out = {"type": "function", "function": function}
        if call.get("id"):
            out["id"] = call["id"]
        return out

    # --- rendering ------------------------------------------------------------------------------------------------

    def render(self, messages: list[dict[str, Any]], tools: list[dict] | None = None,
               add_generation_prompt: bool = False) -> Rendered:
        """Template messages (from ``template_messages``) -> text, with data control-token literals located."""
        return self.render_many([messages], tools, add_generation_prompt)[0]

    def render_many(self, conversations: list[list[dict[str, Any]]], tools: list[dict] | None = None,
                    add_generation_prompt: bool = False) -> list[Rendered]:
        if not conversations:
            return []
        marked = [self.mark(c) for c in conversations] if self.control_re else conversations
        marked_tools = self.mark(tools) if (tools and self.control_re) else tools
        try:
            texts = self.tokenizer.apply_chat_template(
                marked, tools=marked_tools or None, tokenize=False, add_generation_prompt=add_generation_prompt,
                **self.info.template_kwargs)
        except Exception as e:  # noqa: BLE001 - a template's raise_exception(...) about this conversation
            raise RenderError(f"chat template failed: {one_line(e)}") from None
        return [_unmark(t) for t in texts]

    def render_by_shape(self, conversations: list[list[dict[str, Any]]], tools: list[dict] | None = None,
                        add_generation_prompt: bool = False) -> list[Rendered]:
        """``render_many``, rendering each conversation *shape* (its roles) once and filling in the texts.

        Only for plain conversations: role and text only, each text without surrounding whitespace, angle brackets,
        control-token literals or any string the template compares, searches or splits with (``'/nothink'``,
        ``'</think>'``: see ``_tested_strings``), and no text inside another. So no template branch sees a
        difference between a text and the slot that stood for it. The slots hold quotes, a backslash, an
        ampersand, a newline and a non-ASCII letter (those the template does not test): a template that escapes,
        trims or changes the case of a text loses its slot and renders every row. The first conversation of each
        shape is rendered for real as well and must come out the same, or the shape is never used. Everything else
        is rendered as usual."""
        out: list[Rendered | None] = [None] * len(conversations)
        if not tools and self._slots is not None:
            out = [self._from_shape(c, add_generation_prompt) for c in conversations]
        missing = [i for i, r in enumerate(out) if r is None]
        for i, rendered in zip(missing, self.render_many([conversations[i] for i in missing], tools,
                                                         add_generation_prompt)):
            out[i] = rendered
        return out  # type: ignore[return-value]

    def _from_shape(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> Rendered | None:
        if not self._plain(messages):
            return None
        key = (tuple(m["role"] for m in messages), add_generation_prompt)
        if key not in self._shapes:
            slots = [{"role": m["role"], "content": self._slots.format(k)} for k, m in enumerate(messages)]
            try:
                text = None if self._tested(m["content"] for m in slots) else \
                    self.render(slots, add_generation_prompt=add_generation_prompt).text
            except RenderError:
                text = None
            ok = text is not None and all(text.count(self._slots.format(k)) == 1 for k in range(len(messages)))
            self._shapes[key] = text if ok else None
            if ok:  # checked once against the template's own rendering of a real conversation
                real = self.render(messages, add_generation_prompt=add_generation_prompt)
                if self._fill(text, messages) != real.text:
                    self._shapes[key] = None
                return real
        text = self._shapes[key]
        return None if text is None else Rendered(self._fill(text, messages))

    def _fill(self, text: str, messages: list[dict[str, Any]]) -> str:
        for k, m in enumerate(messages):
            text = text.replace(self._slots.format(k), m["content"])
        return text

    def _tested(self, texts) -> bool:
        """Whether any of ``texts`` holds a string the template tests."""
        return self._tested_re is not None and any(self._tested_re.search(t) for t in texts)

    def _plain(self, messages: list[dict[str, Any]]) -> bool:
        texts = [m["content"] for m in messages]
        if not all(set(m) <= {"role", "content"} and isinstance(m["content"], str) for m in messages):
            return False
        for text in texts:
            if (not text or text != text.strip() or "<" in text or ">" in text or "Slot" in text
                    or (self.control_re is not None and self.control_re.search(text))
                    or self._tested((text,))):
                return False
        return not any(a is not b and a in b for a in texts for b in texts)

    def mark(self, obj: Any) -> Any:
        """Wrap special-token literals in data strings with the markers (none when control tokens are allowed)."""
        if self.allow_control_tokens or self.control_re is None:
            return obj
        if isinstance(obj, str):
            if MARK_START in obj or MARK_END in obj:
                obj = obj.replace(MARK_START, "").replace(MARK_END, "")
            if self._first_chars is None or not self._first_chars.search(obj):
                return obj
            return self.control_re.sub(lambda m: MARK_START + m.group(0) + MARK_END, obj)
        if isinstance(obj, dict):
            return {k: (v if k == "role" else self.mark(v)) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.mark(v) for v in obj]
        return obj

    def closers_in(self, text: str, start: int, injected: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """[start, end) of the end-of-turn tokens in ``text`` at or after ``start`` (never inside data text)."""
        if not self.info.end_of_turn:
            return []
        out = []
        for m in self.closer_re.finditer(text, start):
            if not any(a <= m.start() < b for a, b in injected):
                out.append((m.start(), m.end()))
        return out


def _slot_for(tested: frozenset[str]) -> str | None:
    """The slot pattern: ``_SLOT`` and each probe character that makes it hold none of the template's tested
    strings (no branch may see the slot); None when even the bare slot holds one."""
    def clean(slot: str) -> bool:
        return not any(t in slot.format(k) for t in tested for k in (0, 10))

    slot = _SLOT
    for c in _SLOT_PROBE:
        if clean(slot + c + "Q"):
            slot += c
    slot += "Q"  # the probe's whitespace is never at the end (nothing to trim there)
    return slot if clean(slot) else None


@functools.lru_cache(maxsize=8)
def _tested_strings(source: str) -> frozenset[str] | None:
    """The string constants a chat template uses other than by printing them: compared with (``== 'user'``),
    searched for (``'</think>' in content``, ``.endswith('/nothink')``), split on, assigned to a variable that may
    be. A message text holding none of them takes the same branches as any other such text (None: unparsable)."""
    from jinja2 import Environment, TemplateSyntaxError, nodes

    source = re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", source)  # transformers' own tag
    try:
        tree = Environment(extensions=["jinja2.ext.loopcontrols"]).parse(source)
    except TemplateSyntaxError:
        return None
    found: set[str] = set()

    def walk(node, printed: bool) -> None:
        if isinstance(node, nodes.Const):
            if isinstance(node.value, str) and node.value and not printed:
                found.add(node.value)
            return
        for child in node.iter_child_nodes():
            if isinstance(node, nodes.Getitem) and child is node.arg:
                continue  # a key: message['content']
            walk(child, isinstance(node, nodes.Output) or (
                printed and isinstance(node, (nodes.Add, nodes.Concat, nodes.CondExpr)) and child is not getattr(
                    node, "test", None)))

    walk(tree, False)
    return frozenset(found)


def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """System text joined to the first user turn (a blank line between), what Gemma's own docs recommend."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"])
    rest = [m for m in messages if m["role"] != "system"]
    first_user = next((i for i, m in enumerate(rest) if m["role"] == "user"), None)
    if first_user is None:
        raise RenderError("the chat template has no system role and the row has no user turn to fold it into")
    if system:
        rest[first_user] = {**rest[first_user], "content": f"{system}\n\n{rest[first_user]['content']}"}
    return rest


def _unmark(text: str) -> Rendered:
    """Rendered text with markers -> clean text + the ranges that were marked (lone markers are dropped)."""
    if MARK_START not in text and MARK_END not in text:
        return Rendered(text)
    out: list[str] = []
    injected: list[tuple[int, int]] = []
    length = 0
    open_at: int | None = None
    for piece in re.split(f"([{MARK_START}{MARK_END}])", text):
        if piece == MARK_START:
            open_at = length
        elif piece == MARK_END:
            if open_at is not None and length > open_at:
                injected.append((open_at, length))
            open_at = None
        elif piece:
            out.append(piece)
            length += len(piece)
    return Rendered("".join(out), injected)
