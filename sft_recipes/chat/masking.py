"""Token ids and assistant-only labels for any chat template, every row checked.

The planner (turns.py) cuts each training row into text pieces: prompts, and trained replies that end with their
end-of-turn token. Here every piece is tokenized on its own and the ids are concatenated, so

  * the tokens before a reply are exactly the generation prompt tokenized as inference tokenizes it (no token merge
    across the prompt/reply boundary can put header text into a label, pitfall 4), checked token for token for
    every later turn of a whole-conversation row (a mismatch moves the conversation to one row per turn);
  * a reply's labels are its own tokens, ending on the end-of-turn token (pitfall 2), with its reasoning masked
    when ``train_on_reasoning`` is off;
  * text from the data that looks like a control token is encoded as plain text (render.py).

A row that cannot be trained becomes a ``Reject`` with the reason; nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from sft_recipes import SFTRecipesError
from sft_recipes.chat.render import Renderer
from sft_recipes.chat.template_info import TemplateInfo, special_token_ids
from sft_recipes.chat.turns import ConversationPlan, PlanReject, RowPlan, plan_conversation
from sft_recipes.data.rejects import Reject
from sft_recipes.recipe import LENGTH_POLICIES, MULTI_TURN, TRAIN_ON

IGNORE_INDEX = -100
# What each token of a row is, for the preview: untrained prompt text, a reply's answer, its reasoning (trained or
# masked), its tool calls, other template text the reply writes, and the end-of-turn token(s).
TOKEN_CLASSES = ("prompt", "answer", "reasoning", "masked", "tool_call", "format", "end_of_turn")


class RowTooLong(SFTRecipesError):
    pass


class MaskingError(SFTRecipesError):
    pass


@dataclass
class TokenizedRow:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where the model is not trained
    truncated: bool = False  # the last response was cut to fit max_length
    layout: str = "whole"  # "whole" | "per_turn" | "all"
    last_content: tuple[int, int] | None = field(default=None, repr=False)  # token range truncation may shorten
    classes: list[str] | None = field(default=None, repr=False)  # per token, for the preview (see TOKEN_CLASSES)

    @property
    def num_trained(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class MaskingOptions:
    train_on: str = "assistant"
    max_length: int | None = None
    length_policy: str = "drop"
    multi_turn: str = "auto"
    train_on_reasoning: bool = True
    system_message: str = "auto"
    allow_control_tokens: bool = False

    def __post_init__(self) -> None:
        for key, allowed in (("train_on", TRAIN_ON), ("length_policy", LENGTH_POLICIES), ("multi_turn", MULTI_TURN)):
            if getattr(self, key) not in allowed:
                raise MaskingError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")


@dataclass
class Encoded:
    ids: list[int] = field(default_factory=list)
    offsets: list[tuple[int, int]] = field(default_factory=list)  # characters of the piece each token covers


class PieceEncoder:
    """Tokenizes pieces the way inference does: a row's first piece as text start, later pieces as continuations."""

    def __init__(self, tokenizer):
        if getattr(tokenizer, "backend_tokenizer", None) is None:
            raise MaskingError(f"masking needs a fast (Rust) tokenizer; got {type(tokenizer).__name__}")
        self.tokenizer = tokenizer
        self.backend = tokenizer.backend_tokenizer
        self.newline = self.backend.encode("\n", add_special_tokens=False).ids
        self.special = special_token_ids(tokenizer)
        self._done: dict[tuple[str, bool], Encoded] = {}

    def prefetch(self, pieces: list[tuple[str, bool]]) -> None:
        """Encode many pieces (text, first) in two batch calls of the Rust tokenizer; ``encode`` then reuses them."""
        self._done = {}
        for first in (True, False):
            texts = list(dict.fromkeys(t for t, f in pieces if f is first))
            if not texts:
                continue
            batch = self.backend.encode_batch(texts if first else ["\n" + t for t in texts], add_special_tokens=False)
            for text, enc in zip(texts, batch):
                self._done[(text, first)] = Encoded(enc.ids, enc.offsets) if first else self._strip_newline(enc, text)

    def encode(self, text: str, first: bool, injected: list[tuple[int, int]] = ()) -> Encoded:
        if not injected:
            done = self._done.get((text, first))
            return done if done is not None else self._plain(text, first)
        out, cursor = Encoded(), 0
        for a, b in [*injected, (len(text), len(text))]:
            for lo, hi, as_text in ((cursor, a, False), (a, b, True)):
                if hi > lo:
                    part = self._plain(text[lo:hi], first and lo == 0, as_text)
                    out.ids += part.ids
                    out.offsets += [(x + lo, y + lo) for x, y in part.offsets]
            cursor = b
        return out

    def _plain(self, text: str, first: bool, as_text: bool = False) -> Encoded:
        if as_text:
            self.backend.encode_special_tokens = True
        try:
            if first:
                enc = self.backend.encode(text, add_special_tokens=False)
                return Encoded(list(enc.ids), list(enc.offsets))
            return self._strip_newline(self.backend.encode("\n" + text, add_special_tokens=False), text)
        finally:
            if as_text:
                self.backend.encode_special_tokens = False

    def _strip_newline(self, enc, text: str) -> Encoded:
        """A continuation is encoded after a newline that is then removed, so a SentencePiece tokenizer does not add
        the word-start space it puts at the start of a text (transformers' encode_marked_chat does the same). When
        the newline merges with the text's own leading whitespace, the text is encoded alone."""
        n = len(self.newline)
        if enc.ids[:n] == self.newline and all(b <= 1 for _, b in enc.offsets[:n]):
            return Encoded(enc.ids[n:], [(max(a - 1, 0), b - 1) for a, b in enc.offsets[n:]])
        alone = self.backend.encode(text, add_special_tokens=False)
        return Encoded(alone.ids, alone.offsets)


def label_row(encoder: PieceEncoder, plan: RowPlan, stop_ids: set[int], classes: bool = False
              ) -> TokenizedRow | str:
    """ids + labels for one planned row, or the reason it fails a check."""
    special = encoder.special
    ids: list[int] = []
    labels: list[int] = []
    starts: list[int] = []
    kinds: list[str] = []
    last_content: tuple[int, int] | None = None
    for n, piece in enumerate(plan.pieces):
        enc = encoder.encode(piece.text, first=n == 0, injected=piece.injected)
        starts.append(len(ids))
        ids += enc.ids
        if classes:
            kinds += [_token_class(piece, x) for x, _ in enc.offsets]
        if not piece.trained:
            labels += [IGNORE_INDEX] * len(enc.ids)
            continue
        labels += [IGNORE_INDEX if any(x < b and a < y for a, b in piece.masked) else t
                   for t, (x, y) in zip(enc.ids, enc.offsets)]
        if piece.content is not None:
            a, b = piece.content
            inside = [k for k, (x, y) in enumerate(enc.offsets) if x >= a and y <= b]
            last_content = (starts[-1] + inside[0], starts[-1] + inside[-1] + 1) if inside else None
        closers = stop_ids if piece.kind == "reply" else special
        if plan.layout != "all" and (not enc.ids or enc.ids[-1] not in closers):
            return "a trained turn does not end on an end-of-turn token after tokenization"
    for index, prompt in plan.prompts:
        expected = encoder.encode(prompt.text, first=True, injected=prompt.injected).ids
        if ids[: starts[index]] != expected:
            return "whole-conversation row tokenizes an earlier turn differently from inference"
    if all(label == IGNORE_INDEX for label in labels):
        return "nothing to train: no token is labelled"
    return TokenizedRow(ids, labels, layout=plan.layout, last_content=last_content, classes=kinds or None)


def _token_class(piece, start: int) -> str:
    if not piece.trained:
        return "prompt"
    for name in ("end_of_turn", "reasoning", "answer", "tool_call"):
        a, b = piece.spans.get(name, (0, 0))
        if a <= start < b:
            return "masked" if name == "reasoning" and piece.masked else name
    return "format" if piece.kind == "reply" else "answer"


def explain_conversation(tokenizer, info: TemplateInfo, row: dict[str, Any], **options: Any
                         ) -> list[TokenizedRow] | Reject:
    """The training rows of one conversation row with a class per token (see TOKEN_CLASSES), for the preview."""
    opts = MaskingOptions(**options)
    renderer = Renderer(tokenizer, info, opts.system_message, opts.allow_control_tokens)
    try:
        plan = plan_conversation(renderer, conversation_json(row), opts.train_on, opts.multi_turn,
                                 opts.train_on_reasoning)
        rows = label_conversation(PieceEncoder(tokenizer), plan, reply_stop_ids(tokenizer, info), opts, row.get("source", ""),
                     classes=True)
    except PlanReject as e:
        rows = str(e)
    return Reject(rows, row.get("source", ""), row) if isinstance(rows, str) else rows


def reply_stop_ids(tokenizer, info: TemplateInfo) -> set[int]:
    """A trained reply must end on one of these: the template's end-of-turn tokens or next-role tags."""
    return set(info.end_of_turn_ids) | set(tokenizer.convert_tokens_to_ids(list(info.next_role_closers.values())))


def label_conversation(encoder: PieceEncoder, plan: ConversationPlan, stop_ids: set[int], opts: MaskingOptions, source: str,
          classes: bool = False) -> list[TokenizedRow] | str:
    """Label the planned rows, falling back to per-turn rows when a whole row fails a token check."""
    for candidate in (plan.rows, plan.fallback):
        if not candidate:
            continue
        labelled = [label_row(encoder, r, stop_ids, classes) for r in candidate]
        problem = next((r for r in labelled if isinstance(r, str)), None)
        if problem is None:
            fitted = [_fit(r, opts.max_length, opts.length_policy, source) for r in labelled]
            return next((f for f in fitted if isinstance(f, str)), None) or fitted
        if candidate is plan.fallback or not plan.fallback:
            return problem
    return "nothing to train"


def _fit(row: TokenizedRow, max_length: int | None, policy: str, source: str) -> TokenizedRow | str:
    """Apply the length policy; truncation only ever shortens the last response's answer, never its ending."""
    n = len(row.input_ids)
    if max_length is None or n <= max_length:
        return row
    if policy == "error":
        raise RowTooLong(f"{source or 'a row'}: too long: {n} > max_length {max_length} (length_policy: error)")
    if policy == "drop":
        return f"too long: {n} > max_length {max_length}"
    last = row.last_content
    if last is None:
        return f"too long: {n} > max_length {max_length}, and no located assistant response to truncate"
    first, after = last
    keep = (after - first) - (n - max_length)
    if keep < 1:
        return f"too long even with the last response cut: {n - (after - first) + 1} > max_length {max_length}"
    cut = first + keep
    classes = row.classes[:cut] + row.classes[after:] if row.classes else None
    return TokenizedRow(row.input_ids[:cut] + row.input_ids[after:], row.labels[:cut] + row.labels[after:], True,
                        row.layout, classes=classes)


def verify_row(input_ids: list[int], labels: list[int], end_of_turn_ids: Iterable[int],
               train_on: str = "assistant") -> str | None:
    """An independent check of a tokenized row (also for data tokenized elsewhere): the reason it is wrong, or None.

    Labels must copy the ids where set; something must be trained; and, unless everything is trained, every
    trained span must end on an end-of-turn token, or the model never learns to stop (pitfall 2).
    """
    if len(input_ids) != len(labels):
        return f"labels ({len(labels)}) and input_ids ({len(input_ids)}) differ in length"
    if any(label != IGNORE_INDEX and label != tok for tok, label in zip(input_ids, labels)):
        return "a label differs from its input id"
    spans = trained_spans(labels)
    if not spans:
        return "nothing to train: every label is masked"
    if train_on != "all":
        eot = set(end_of_turn_ids)
        for a, b in spans:
            if input_ids[b - 1] not in eot:
                return f"trained span {a}..{b} does not end on an end-of-turn token"
    return None


def trained_spans(labels: list[int]) -> list[tuple[int, int]]:
    """Contiguous [start, end) ranges of trained positions."""
    spans = []
    start = None
    for i, label in enumerate(labels):
        if label != IGNORE_INDEX and start is None:
            start = i
        elif label == IGNORE_INDEX and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(labels)))
    return spans


def conversation_json(row: dict[str, Any]) -> dict[str, Any]:
    """What the planner reads of a row: its messages and tools."""
    return {"messages": row["messages"], **({"tools": row["tools"]} if row.get("tools") else {})}


def first_cause(rejects: list[Reject]) -> str:
    """One line for "no row survived: <cause>": the first reject and how common its reason is."""
    if not rejects:
        return ""
    first = rejects[0]
    where = f"{first.source}: " if first.source else ""
    kinds = Counter(r.reason.split(":")[0] for r in rejects)
    same = kinds[first.reason.split(":")[0]]
    tail = f" ({same} of {len(rejects)} rejects like this)" if len(rejects) > 1 else ""
    return f"{where}{first.reason}{tail}"


def next_token_targets(labels):
    """``(keep, targets)`` for a ``[batch, length]`` label tensor: ``keep`` marks the positions whose next token is
    trained (the boolean ``logits_to_keep`` a causal LM takes), ``targets`` those next tokens in the same row-major
    order the model returns the kept logits in."""
    import torch

    next_labels = labels[:, 1:]
    scored = next_labels != IGNORE_INDEX
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = scored
    return keep, next_labels[scored]
