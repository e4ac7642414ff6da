"""Where each trained reply is: a conversation -> the text pieces of its training row(s), trained or not.

Every trained assistant turn is trained the way inference produces it: the generation prompt inference renders at
that turn (``messages[:i]`` with ``add_generation_prompt``), then the reply as the template renders it when it is the
latest message (``messages[:i+1]``), up to and including the token that ends the turn. Between the generation
prompt and the answer this may hold template text the model must also write (Qwen3's ``<think>\\n\\n</think>\\n\\n``,
gpt-oss's ``<|channel|>final<|message|>``): it is part of the reply and trained.

Two row layouts (``multi_turn``):
    whole     one row for the conversation, when every turn's prompt + reply is a prefix of the last one's, i.e.
              the template renders earlier turns unchanged once later ones follow (most templates; fastest);
    per_turn  one row per trained assistant turn, for templates that rewrite history (Qwen3 drops earlier
              reasoning, gpt-oss ends a stored answer differently, Phi-3 ends the text with EOS).
``auto`` takes ``whole`` when it is exact (also token for token: see masking.py) and ``per_turn`` otherwise.

Templates whose generation prompt differs from the stored turn (DeepSeek-R1 / V3 and Nemotron open it with
``<think>``) train the generation prompt, then the stored turn's reply after the text both share.
Turns that end with the next role's tag (GLM-4's ``<|user|>`` / ``<|observation|>``) get that tag as their end.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from sft_recipes.chat.render import Rendered, RenderError, Renderer
from sft_recipes.recipe import MULTI_TURN, TRAIN_ON

_INLINE_THINK = re.compile(r"^\s*<think>(.*?)</think>", re.DOTALL)


@dataclass
class Piece:
    """A stretch of row text, encoded on its own (so every trained reply starts at a token boundary)."""

    text: str
    trained: bool = False
    kind: str = "prompt"  # "prompt" | "reply" (an assistant turn) | "turn" (a trained non-assistant message)
    injected: list[tuple[int, int]] = field(default_factory=list)  # data text that looks like control tokens
    masked: list[tuple[int, int]] = field(default_factory=list)  # untrained stretches of a trained piece
    content: tuple[int, int] | None = None  # the answer text of a reply (what truncation may shorten)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # answer / reasoning / tool_call / end_of_turn


@dataclass
class RowPlan:
    pieces: list[Piece]
    prompts: list[tuple[int, Rendered]] = field(default_factory=list)  # (piece index, prompt inference sees there)
    layout: str = "whole"  # "whole" | "per_turn" | "all"


@dataclass
class ConversationPlan:
    rows: list[RowPlan]  # the rows to try first
    fallback: list[RowPlan] = field(default_factory=list)  # per-turn rows when the whole row fails a token check
    notes: list[str] = field(default_factory=list)  # counted in the prepare report


class PlanReject(Exception):
    """The conversation cannot be trained as asked; the text is the reject reason."""


@dataclass
class _Reply:
    prompt: Rendered  # what inference feeds the model before this reply
    piece: Piece  # the reply, up to and including its end of turn


def trained_flags(messages: list[dict[str, Any]], train_on: str) -> list[bool]:
    """Which messages are trained: an explicit per-message ``train`` wins over the policy."""
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    flags = []
    for i, m in enumerate(messages):
        if m.get("train") is not None:
            flags.append(bool(m["train"]))
        elif train_on == "all":
            flags.append(True)
        elif train_on == "last_assistant":
            flags.append(i == last_assistant)
        else:
            flags.append(m["role"] == "assistant")
    return flags


def plan_conversation(renderer: Renderer, row: dict[str, Any], train_on: str = "assistant",
                      multi_turn: str = "auto", train_on_reasoning: bool = True) -> ConversationPlan:
    """The row(s) to train for one conversation row; raises PlanReject with the reason when there are none."""
    if train_on not in TRAIN_ON or multi_turn not in MULTI_TURN:
        raise ValueError(f"train_on {train_on!r} / multi_turn {multi_turn!r}")
    messages = row["messages"]
    if not messages:
        raise PlanReject("empty conversation")
    _check_tools(renderer, row)
    try:
        template_messages, folded = renderer.template_messages(messages)
    except RenderError as e:
        raise PlanReject(str(e)) from None
    if folded:  # the system messages are gone: keep flags aligned with the template's messages
        messages = [m for m in messages if m["role"] != "system"]
    notes = ["system folded into the first user turn"] if folded else []
    flags = trained_flags(messages, train_on)
    tools = row.get("tools") or None
    if train_on == "all":
        return ConversationPlan([_plan_all(renderer, template_messages, tools, flags)], notes=notes)
    assistant = [i for i, f in enumerate(flags) if f and messages[i]["role"] == "assistant"]
    others = [i for i, f in enumerate(flags) if f and messages[i]["role"] != "assistant"]
    if not assistant and not others:
        raise PlanReject("nothing to train: no message is trained (all have train: false?)")
    if not assistant:
        raise PlanReject("nothing to train: only non-assistant messages are marked trained")
    replies = _replies(renderer, template_messages, tools, assistant, messages, train_on_reasoning, notes)
    per_turn = [RowPlan([Piece(r.prompt.text, injected=r.prompt.injected), r.piece], layout="per_turn")
                for r in replies]
    if others and [i for i in others if i > assistant[-1]]:
        raise PlanReject("a trained non-assistant message after the last trained reply (nothing to learn after it)")
    if multi_turn == "per_turn" and not others:
        return ConversationPlan(per_turn, notes=notes)
    whole, problem = _whole(renderer, template_messages, tools, replies, others)
    if whole is not None:
        return ConversationPlan([whole], fallback=[] if multi_turn == "whole" or others else per_turn, notes=notes)
    if multi_turn == "whole" or others:
        raise PlanReject(problem + ("" if not others else " (needed for trained non-assistant messages)"))
    return ConversationPlan(per_turn, notes=notes)


def _check_tools(renderer: Renderer, row: dict[str, Any]) -> None:
    info = renderer.info
    uses_calls = any(m.get("tool_calls") or m["role"] == "tool" for m in row["messages"])
    if uses_calls and not info.tool_calls:
        raise PlanReject(f"the chat template ({info.name}) does not render tool calls and tool results")
    if row.get("tools") and not info.tools_list:
        raise PlanReject(f"the chat template ({info.name}) does not render a tools list "
                         "(describe the tools in the system prompt instead)")


def _replies(renderer: Renderer, tm: list[dict], tools, assistant: list[int], messages: list[dict],
             train_on_reasoning: bool, notes: list[str]) -> list[_Reply]:
    try:
        latest = dict(zip(assistant, renderer.render_by_shape([tm[: i + 1] for i in assistant], tools)))
        with_prompt = [i for i in assistant if i > 0]
        prompts = dict(zip(with_prompt, renderer.render_by_shape([tm[:i] for i in with_prompt], tools, True)))
        differ = [i for i in with_prompt if not latest[i].text.startswith(prompts[i].text)]
        if differ:  # the template opens a stored turn differently (or a shape misled): both rendered for real
            latest.update(zip(differ, renderer.render_many([tm[: i + 1] for i in differ], tools)))
            prompts.update(zip(differ, renderer.render_many([tm[:i] for i in differ], tools, True)))
    except RenderError as e:
        raise PlanReject(str(e)) from None
    return [_locate_reply(renderer, i, messages[i], latest[i], prompts.get(i), train_on_reasoning, notes)
            for i in assistant]


def _locate_reply(renderer: Renderer, i: int, message: dict, latest: Rendered, prompt: Rendered | None,
                  train_on_reasoning: bool, notes: list[str]) -> _Reply:
    """The reply of assistant message ``i`` in ``latest`` (the conversation up to it, rendered)."""
    text = latest.text
    consistent = prompt is not None and text.startswith(prompt.text)
    low = len(prompt.text) if consistent else _turn_start(renderer, prompt, text)
    elements = _elements(renderer, i, message, text, low, train_on_reasoning)
    first = min(a for a, _ in elements.values())
    if consistent:
        start = len(prompt.text)
    elif prompt is not None:  # the generation prompt opens the turn differently: train prompt + stored reply
        start = _shared_boundary(renderer, prompt.text, latest, first)
        extra = prompt.text[len(os.path.commonprefix([prompt.text, text[:start]])):].strip()
        if "reasoning" in elements and extra and extra in text[elements["reasoning"][1]:]:
            raise PlanReject(f"the generation prompt already closes the reasoning block ({extra!r}) before "
                             f"message {i + 1}: its reasoning cannot follow it (drop the reasoning, or switch "
                             "thinking on, e.g. chat_template_kwargs: {enable_thinking: true})")
        notes.append("generation prompt differs from the stored turn")
    else:  # the first message: no generation prompt to compare with
        start = first
        prompt = Rendered(text[:start], [r for r in latest.injected if r[1] <= start])
    last = max(b for _, b in elements.values())
    closers = renderer.closers_in(text, last, latest.injected)
    tag = ""
    if closers:
        closer_start, end = closers[0]
    else:
        role = "tool" if message.get("tool_calls") else "user"
        tag = renderer.info.next_role_closers.get(role, "")
        if not tag:
            raise PlanReject(f"no end-of-turn token after message {i + 1} (assistant): "
                             "the model would never learn to stop")
        closer_start = end = len(text)
    piece = Piece(text[start:end] + tag, trained=True, kind="reply",
                  injected=[(a - start, b - start) for a, b in latest.injected if a >= start and b <= end])
    piece.spans = _reply_spans(elements, start, closer_start, len(piece.text))
    if "content" in elements:
        piece.content = piece.spans["answer"]
    if "reasoning" in elements and not train_on_reasoning:
        piece.masked.append(piece.spans["reasoning"])
    return _Reply(prompt, piece)


def _reply_spans(elements: dict[str, tuple[int, int]], start: int, closer_start: int, length: int
                 ) -> dict[str, tuple[int, int]]:
    """The reply's parts relative to its start, for labels (truncation, masked reasoning) and the preview."""
    spans = {"end_of_turn": (closer_start - start, length)}
    if "content" in elements:
        spans["answer"] = (elements["content"][0] - start, elements["content"][1] - start)
    if "reasoning" in elements:
        spans["reasoning"] = (elements["reasoning"][0] - start, elements["reasoning"][1] - start)
    calls = [v for k, v in elements.items() if k.startswith("tool_call_")]
    if calls:
        first = min(a for a, _ in calls)
        before = [b for k, (a, b) in elements.items() if not k.startswith("tool_call_") and b <= first]
        spans["tool_call"] = (max(before, default=start) - start, closer_start - start)
    return spans


def _elements(renderer: Renderer, i: int, message: dict, text: str, low: int,
              train_on_reasoning: bool) -> dict[str, tuple[int, int]]:
    """Where the reply's parts are in ``text``: its answer, reasoning and tool calls (each must be rendered)."""
    out: dict[str, tuple[int, int]] = {}
    content = message.get("content") or ""
    reasoning = message.get("reasoning") or ""
    inline = _INLINE_THINK.match(content)
    answer = content[inline.end():] if inline else content
    if inline and not reasoning:
        reasoning = inline.group(1)
    if answer.strip():
        span = _find(text, answer, low, len(text))
        if span is None:
            raise PlanReject(f"content of message {i + 1} (assistant) not found in the template's rendering "
                             "(the template alters it)")
        out["content"] = span
    if reasoning.strip():
        high = out["content"][0] if "content" in out else len(text)
        span = _find(text, reasoning, low, high)
        if span is not None:
            out["reasoning"] = span
        elif train_on_reasoning:
            raise PlanReject(f"the chat template ({renderer.info.name}) does not render the reasoning of message "
                             f"{i + 1} (set train_on_reasoning: false to train the answer without it)")
    for n, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        pos = text.rfind(function["name"], low)
        values = [v for v in (function.get("arguments") or {}).values() if isinstance(v, str) and v.strip()] \
            if isinstance(function.get("arguments"), dict) else []
        if pos < 0 or any(v not in text[low:] for v in values):
            raise PlanReject(f"the chat template ({renderer.info.name}) does not render tool call {n + 1} of "
                             f"message {i + 1}")
        out[f"tool_call_{n}"] = (pos, pos + len(function["name"]))
    if not out:
        raise PlanReject(f"assistant message {i + 1} is empty (no content, reasoning or tool call)")
    return out


def _find(text: str, needle: str, low: int, high: int) -> tuple[int, int] | None:
    """The last occurrence of ``needle`` (or of it stripped: templates trim) in text[low:high]."""
    for candidate in (needle, needle.strip()):
        if not candidate:
            return None
        pos = text.rfind(candidate, low, high)
        if pos >= 0:
            return pos, pos + len(candidate)
    return None


def _turn_start(renderer: Renderer, prompt: Rendered | None, text: str) -> int:
    """Where the latest turn can start at the earliest: after the last control token the generation prompt and the
    stored turn share (0 without a prompt). Content is searched from there, never in earlier turns."""
    if prompt is None or renderer.control_re is None:
        return 0
    shared = len(os.path.commonprefix([prompt.text, text]))
    ends = [m.end() for m in renderer.control_re.finditer(text, 0, shared)]
    return ends[-1] if ends else 0


def _shared_boundary(renderer: Renderer, prompt: str, latest: Rendered, first: int) -> int:
    """Where the stored turn leaves the text it shares with the generation prompt (never inside a token)."""
    cut = min(len(os.path.commonprefix([prompt, latest.text])), first)
    if renderer.control_re is not None:
        for m in renderer.control_re.finditer(latest.text, max(0, cut - 64), cut + 64):
            if m.start() < cut < m.end():
                return m.start()
    return cut


def _whole(renderer: Renderer, tm: list[dict], tools, replies: list[_Reply], others: list[int]
           ) -> tuple[RowPlan | None, str]:
    """One row for all trained turns, when each turn's prompt + reply is a prefix of the last one's."""
    full = replies[-1].prompt.text + replies[-1].piece.text
    injected = replies[-1].prompt.injected + [(a + len(replies[-1].prompt.text), b + len(replies[-1].prompt.text))
                                              for a, b in replies[-1].piece.injected]
    spans: list[tuple[int, int, Piece | None]] = []
    for n, r in enumerate(replies):
        if not full.startswith(r.prompt.text + r.piece.text):
            return None, (f"chat template renders assistant turn {n + 1} differently once later messages follow "
                          "(multi_turn: whole)")
        spans.append((len(r.prompt.text), len(r.prompt.text) + len(r.piece.text), r.piece))
    try:
        spans += _trained_others(renderer, tm, tools, others, full)
    except PlanReject as e:
        return None, str(e)
    spans.sort(key=lambda s: s[0])
    pieces: list[Piece] = []
    prompts: list[tuple[int, Rendered]] = []
    cursor = 0
    reply_prompts = {len(r.prompt.text): r.prompt for r in replies}
    for a, b, piece in spans:
        if a < cursor:
            return None, "trained turns overlap in the rendering"
        pieces.append(_slice(full, injected, cursor, a))
        if piece is not None and len(pieces) > 1:  # a reply after other pieces: its prompt is token-checked
            prompts.append((len(pieces), reply_prompts[a]))
        pieces.append(piece if piece is not None else _slice(full, injected, a, b, trained=True, kind="turn"))
        cursor = b
    return RowPlan(pieces, prompts, layout="whole"), ""


def _trained_others(renderer: Renderer, tm: list[dict], tools, others: list[int], full: str
                    ) -> list[tuple[int, int, None]]:
    """Spans of trained user / system / tool messages in ``full``: their content and the token closing them."""
    out = []
    low = 0
    for j in others:
        prefix = renderer.render(tm[: j + 1], tools)
        if not full.startswith(prefix.text):
            raise PlanReject(f"chat template renders message {j + 1} differently once later messages follow")
        span = _find(full, tm[j]["content"], low, len(prefix.text))
        if span is None:
            raise PlanReject(f"content of message {j + 1} ({tm[j]['role']}) not found in the template's rendering")
        m = renderer.control_re.search(full, span[1]) if renderer.control_re else None
        if m is None or m.start() >= len(prefix.text):
            raise PlanReject(f"no end-of-turn token after message {j + 1} ({tm[j]['role']})")
        out.append((span[0], m.end(), None))
        low = m.end()
    return out


def _slice(text: str, injected: list[tuple[int, int]], a: int, b: int, trained: bool = False,
           kind: str = "prompt") -> Piece:
    return Piece(text[a:b], trained=trained, kind=kind,
                 injected=[(x - a, y - a) for x, y in injected if x >= a and y <= b])


def _plan_all(renderer: Renderer, tm: list[dict], tools, flags: list[bool]) -> RowPlan:
    """``train_on: all``: the whole rendering is trained except messages marked ``train: false``."""
    try:
        full = renderer.render(tm, tools)
    except RenderError as e:
        raise PlanReject(str(e)) from None
    piece = Piece(full.text, trained=True, injected=full.injected)
    excluded = [j for j, f in enumerate(flags) if not f]
    for a, b, _ in _trained_others(renderer, tm, tools, excluded, full.text):
        piece.masked.append((a, b))
    return RowPlan([piece], layout="all")
