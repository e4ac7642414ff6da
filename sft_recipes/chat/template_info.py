"""What a chat template does, found once by rendering probe conversations: the one answer to "which tokens end a
turn" and "what can this template render" that masking, generation, export and the judge all read.

Nothing here knows a model family. Each fact is observed:

    end of turn   Render a reply as the latest message, then the same reply followed by another message. The turn's
                  own text is what both renders share; the last special token of it after the reply closes the turn
                  (``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``, Cohere's ``<|END_RESPONSE|><|END_OF_TURN_TOKEN|>``
                  ends on the latter). When the shared part has none, the latest-turn render's first special token
                  after the reply is used (gpt-oss ends a final answer with ``<|return|>`` but a stored one with
                  ``<|end|>``). When neither has one, the turn is closed by the next role's tag (GLM-4: ``<|user|>``,
                  ``<|observation|>``), which is also what generation stops on.
    tool calls    The same for a reply that calls a tool (gpt-oss ``<|call|>``, Gemma 4 ``<|tool_response>``); whether
                  the template renders the tools list, the calls (with arguments as a mapping or a JSON string) and
                  the results at all.
    system role   Rendered, or refused / silently dropped (Gemma 1/2): then the system text is folded into the
                  first user turn.
    reasoning     Whether a reply's ``reasoning`` is rendered when the reply is the latest message.

The description is saved beside the run's tokenizer (``template_info.json``) so every later stage reads the same
answer; ``load_template_info`` computes it when a directory has none (a base model).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sft_recipes import SFTRecipesError

INFO_FILE = "template_info.json"
PROBE_USER = "Probe question 7Q"
PROBE_USER_2 = "Probe follow-up 7U"
PROBE_REPLY = "Probe reply 7R"
PROBE_SYSTEM = "Probe system 7S"
PROBE_REASONING = "Probe reasoning 7T"
PROBE_TOOL = "probe_tool_7x"
PROBE_TOOL_DESCRIPTION = "Probe tool description 7D"
PROBE_ARGUMENT = "probe value 7V"
PROBE_RESULT = "Probe result 7W"
PROBE_TOOLS = [{"type": "function", "function": {
    "name": PROBE_TOOL, "description": PROBE_TOOL_DESCRIPTION,
    "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "what to look up"}},
                   "required": ["query"]}}}]


class TemplateError(SFTRecipesError):
    pass


@dataclass
class TemplateInfo:
    """What the rest of the pipeline needs to know about the template a run trains with."""

    name: str  # "native" for the tokenizer's own, "chatml", "alpaca", or the .jinja file's stem
    template: str = ""
    new_tokens: list[int] = field(default_factory=list)  # ids added to the vocabulary: resized and trained
    end_of_turn: list[str] = field(default_factory=list)  # tokens that close a generated turn: trained, stopped on
    end_of_turn_ids: list[int] = field(default_factory=list)
    next_role_closers: dict[str, str] = field(default_factory=dict)  # "user"/"tool" -> the tag closing a turn
    stop_strings: list[str] = field(default_factory=list)  # text that also ends a generated answer
    eos_token: str | None = None
    eos_token_id: int | None = None
    pad_token: str | None = None
    system_role: bool = True  # renders a system message (else it is folded into the first user turn)
    reasoning: bool = False  # renders a reply's reasoning when the reply is the latest message
    tool_calls: bool = False  # renders assistant tool calls and tool results
    tools_list: bool = False  # renders the ``tools`` schemas
    tool_arguments: str = "mapping"  # how the template wants tool-call arguments: "mapping" | "json"
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {"enable_thinking": false}
    notes: list[str] = field(default_factory=list)  # things worth a line in the prepare log

    @property
    def stop_token_ids(self) -> list[int]:
        """Generation stops at the end of a turn, which is not always the tokenizer's EOS (pitfall 2), and at EOS."""
        ids = list(self.end_of_turn_ids)
        if self.eos_token_id is not None:
            ids.append(self.eos_token_id)
        return list(dict.fromkeys(ids))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("template")
        return out

    def save(self, directory: str | Path) -> None:
        Path(directory, INFO_FILE).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")


def stop_token_ids(tokenizer, template: TemplateInfo | None = None, configured: int | list[int] | None = None
                   ) -> list[int]:
    """The one answer to "where does a generated answer end": the template's end-of-turn tokens first, then the
    tokenizer's EOS, then ids a model's own generation config already stops at. Unique, order kept."""
    info = template or template_info_for(tokenizer)
    ids = list(info.end_of_turn_ids) if tokenizer.chat_template else []
    ids.append(tokenizer.eos_token_id)
    ids.extend(configured if isinstance(configured, list) else [configured])
    return list(dict.fromkeys(i for i in ids if i is not None and i < len(tokenizer)))


def special_token_ids(tokenizer) -> set[int]:
    """Ids that can close a turn: named special tokens plus added tokens flagged special."""
    ids = set(tokenizer.all_special_ids)
    ids.update(i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def describe_template(tokenizer, name: str = "native", new_tokens: list[int] | None = None,
                      template_kwargs: dict[str, Any] | None = None, stop_strings: list[str] | None = None,
                      ) -> TemplateInfo:
    """Probe the template on ``tokenizer`` (set up already) and describe it; one clear error when it cannot work."""
    if not tokenizer.chat_template:
        raise TemplateError("the tokenizer has no chat template (a base model?): "
                            "set chat_template: chatml | alpaca | path/to/template.jinja")
    probe = _Prober(tokenizer, dict(template_kwargs or {}))
    info = TemplateInfo(
        name=name, template=tokenizer.chat_template, new_tokens=list(new_tokens or []),
        stop_strings=list(stop_strings or []), eos_token=tokenizer.eos_token, eos_token_id=tokenizer.eos_token_id,
        pad_token=tokenizer.pad_token, template_kwargs=dict(template_kwargs or {}),
    )
    closers, next_role, header = probe.reply_closers()
    if header and header not in info.stop_strings:  # turns separated by text (Alpaca): stop at the next header too
        info.stop_strings.append(header)
    info.system_role = probe.renders_system()
    info.reasoning = probe.renders_reasoning()
    tool = probe.tool_support()
    if tool is not None:
        info.tool_calls, info.tools_list, info.tool_arguments, tool_closer, tool_next = tool
        closers += [t for t in tool_closer if t not in closers]
        next_role.update(tool_next)
    if not closers and not next_role:
        raise TemplateError("chat template puts no special token after an assistant reply: a model trained on it "
                            "never learns to stop (use chat_template: chatml, or end assistant turns with a special "
                            "token)")
    if not closers:  # turns end with the next role's tag: generation stops on those tags
        closers = list(dict.fromkeys(next_role.values()))
    info.end_of_turn = closers
    info.end_of_turn_ids = [tokenizer.convert_tokens_to_ids(t) for t in closers]
    info.next_role_closers = next_role
    if not info.system_role:
        info.notes.append("the template has no system role: system text is folded into the first user turn")
    return info


_DESCRIBED: dict[tuple, TemplateInfo] = {}


def template_info_for(tokenizer) -> TemplateInfo:
    """The description saved beside where ``tokenizer`` was loaded from, else one computed (and kept) for it."""
    directory = getattr(tokenizer, "name_or_path", None)
    if directory and Path(directory, INFO_FILE).is_file():
        saved = load_template_info(directory, tokenizer)
        if saved.template == (tokenizer.chat_template or ""):
            return saved
    key = (tokenizer.chat_template, len(tokenizer), tokenizer.eos_token, tokenizer.pad_token)
    if key not in _DESCRIBED:
        _DESCRIBED[key] = load_template_info(None, tokenizer)
    return _DESCRIBED[key]


def load_template_info(directory: str | Path | None, tokenizer=None) -> TemplateInfo:
    """The description saved beside a run's tokenizer, else one computed from ``tokenizer``'s template."""
    if directory is not None and Path(directory, INFO_FILE).is_file():
        data = json.loads(Path(directory, INFO_FILE).read_text(encoding="utf-8"))
        known = {f for f in TemplateInfo.__dataclass_fields__}
        info = TemplateInfo(**{k: v for k, v in data.items() if k in known})
        if tokenizer is not None and not info.template:
            info.template = tokenizer.chat_template or ""
        return info
    if tokenizer is None:
        raise TemplateError(f"no {INFO_FILE} in {directory} and no tokenizer to describe")
    if not tokenizer.chat_template:  # a raw base model: generation stops at EOS only
        return TemplateInfo(name="none", eos_token=tokenizer.eos_token, eos_token_id=tokenizer.eos_token_id,
                            pad_token=tokenizer.pad_token)
    return describe_template(tokenizer, "native")


class _Prober:
    """Renders probe conversations and reads token positions; every method is one observation."""

    def __init__(self, tokenizer, template_kwargs: dict[str, Any]):
        self.tokenizer = tokenizer
        self.kwargs = template_kwargs
        self.special = special_token_ids(tokenizer)

    def render(self, messages, **kwargs) -> str | None:
        try:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, **self.kwargs, **kwargs)
        except Exception:  # noqa: BLE001 - a template's own raise_exception / jinja error means "cannot render this"
            return None

    def specials_after(self, text: str, start: int, end: int | None = None) -> list[tuple[int, str]]:
        """(char position, token) of the special tokens of ``text`` lying wholly in [start, end)."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        end = len(text) if end is None else end
        return [(a, self.tokenizer.convert_ids_to_tokens(i)) for i, (a, b) in
                zip(enc["input_ids"], enc["offset_mapping"]) if i in self.special and start <= a and b <= end]

    def closer(self, latest: str | None, followed: str | None, anchor: str) -> tuple[list[str], str | None]:
        """(tokens closing the turn, the next role's tag when the turn has no closer of its own)."""
        if latest is None or anchor not in latest:
            return [], None
        after = latest.rfind(anchor) + len(anchor)
        shared = len(os.path.commonprefix([latest, followed])) if followed else 0
        in_shared = self.specials_after(latest, after, shared)
        if in_shared:
            return [in_shared[-1][1]], None
        own = self.specials_after(latest, after)
        if own:
            return [own[0][1]], None
        if followed and anchor in followed:
            nxt = self.specials_after(followed, followed.rfind(anchor) + len(anchor))
            if nxt:
                return [], nxt[0][1]
        return [], None

    def reply_closers(self) -> tuple[list[str], dict[str, str], str]:
        """(closers, next-role tag, the next user turn's header when it is plain text, e.g. "### Instruction:")."""
        exchange = [{"role": "user", "content": PROBE_USER}, {"role": "assistant", "content": PROBE_REPLY}]
        latest = self.render(exchange)
        if latest is None:
            raise TemplateError("chat template failed to render a user/assistant exchange")
        if PROBE_REPLY not in latest:
            raise TemplateError("chat template does not render the assistant's text verbatim")
        followed = self.render(exchange + [{"role": "user", "content": PROBE_USER_2}])
        closers, tag = self.closer(latest, followed, PROBE_REPLY)
        header = ""
        if followed and closers and PROBE_USER_2 in followed:
            after = followed.find(closers[-1], followed.rfind(PROBE_REPLY)) + len(closers[-1])
            between = followed[after:followed.rfind(PROBE_USER_2)]
            if between.strip() and not self.specials_after(between, 0):
                header = between.strip().splitlines()[0].strip()
        return closers, ({"user": tag} if tag else {}), header

    def renders_system(self) -> bool:
        text = self.render([{"role": "system", "content": PROBE_SYSTEM}, {"role": "user", "content": PROBE_USER},
                            {"role": "assistant", "content": PROBE_REPLY}])
        return text is not None and PROBE_SYSTEM in text

    def renders_reasoning(self) -> bool:
        text = self.render([{"role": "user", "content": PROBE_USER},
                            {"role": "assistant", "content": PROBE_REPLY, "reasoning_content": PROBE_REASONING}])
        return text is not None and PROBE_REASONING in text

    def tool_support(self) -> tuple[bool, bool, str, list[str], dict[str, str]] | None:
        """(calls rendered, tools list rendered, argument shape, closers, next-role tag) or None without tools."""
        for shape in ("mapping", "json"):
            arguments: Any = {"query": PROBE_ARGUMENT}
            if shape == "json":
                arguments = json.dumps(arguments)
            call = {"role": "assistant", "content": "",
                    "tool_calls": [{"type": "function", "function": {"name": PROBE_TOOL, "arguments": arguments}}]}
            messages = [{"role": "user", "content": PROBE_USER}, call]
            result = {"role": "tool", "content": PROBE_RESULT, "name": PROBE_TOOL, "tool_call_id": "call_0"}
            latest = self.render(messages, tools=PROBE_TOOLS)
            followed = self.render(messages + [result], tools=PROBE_TOOLS)
            if latest is None or followed is None:
                continue
            if not all(s in followed for s in (PROBE_TOOL, PROBE_ARGUMENT, PROBE_RESULT)):
                continue
            closers, tag = self.closer(latest, followed, PROBE_ARGUMENT)
            return True, PROBE_TOOL_DESCRIPTION in followed, shape, closers, ({"tool": tag} if tag else {})
        return None
