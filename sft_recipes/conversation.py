"""The one data model: a conversation is a list of messages (role, content, trained or not).

Every input format converts into it once (see ``data/formats.py``); everything after works on it.
Rows travel through ``datasets`` and JSONL files as plain dicts, so the model also has a dict shape:

    {"messages": [{"role": "user", "content": "...", "train": null}, ...],
     "tools": [...],                                      # optional: JSON schemas of the callable tools
     "source": "data/alpaca.json:17", "task": "summarize", "id": "...", "group": "..."}

A message dict always has ``role``, ``content`` and ``train``; ``reasoning``, ``tool_calls``, ``tool_call_id`` and
``name`` appear only when set. ``train`` is None when the recipe's policy decides (assistant turns are trained,
tool results and prompts are not).

Reasoning is kept apart from the answer (``reasoning``), the way the Qwen3 / DeepSeek / gpt-oss templates render
it: each template shows it in its own syntax, or not at all. Tool calls are OpenAI-shaped:
``{"type": "function", "function": {"name": ..., "arguments": {...}}}`` with the arguments as a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
# Names other datasets and APIs use for a message's reasoning; all are read as ``reasoning``.
REASONING_KEYS = ("reasoning", "reasoning_content", "thinking")


class MessageError(ValueError):
    """A message that cannot be part of a conversation; the text is the reject reason."""


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "ToolCall":
        """OpenAI's shape, or a flat ``{"name", "arguments"}``; arguments as a mapping or a JSON object string."""
        import json

        if not isinstance(data, dict):
            raise MessageError(f"a tool call is not an object ({type(data).__name__})")
        function = data.get("function", data)
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise MessageError("a tool call has no function name")
        arguments = function.get("arguments", function.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as e:
                raise MessageError(f"tool call {function['name']!r}: arguments are not valid JSON ({e.msg})") from None
        if not isinstance(arguments, dict):
            raise MessageError(f"tool call {function['name']!r}: arguments are not an object")
        call_id = data.get("id")
        return cls(function["name"], arguments, str(call_id) if call_id else None)


@dataclass
class Message:
    role: str
    content: str
    train: bool | None = None  # None: decided by the recipe's policy (assistant turns are trained)
    reasoning: str | None = None  # assistant reasoning, rendered by templates that support it
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant only
    tool_call_id: str | None = None  # tool results: the call answered
    name: str | None = None  # tool results: the tool's name

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise MessageError(f"unknown role {self.role!r} (expected one of {', '.join(ROLES)})")
        if not isinstance(self.content, str):
            raise MessageError(f"message content must be a string, got {type(self.content).__name__}")
        if self.train is not None and not isinstance(self.train, bool):
            raise MessageError(f"'train' is not a boolean ({type(self.train).__name__})")
        if self.reasoning is not None and not isinstance(self.reasoning, str):
            raise MessageError(f"reasoning is not a string ({type(self.reasoning).__name__})")
        if (self.tool_calls or self.reasoning) and self.role != "assistant":
            raise MessageError(f"a {self.role} message cannot carry reasoning or tool calls")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content, "train": self.train}
        if self.reasoning:
            out["reasoning"] = self.reasoning
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        reasoning = next((data[k] for k in REASONING_KEYS if data.get(k) is not None), None)
        calls = data.get("tool_calls") or []
        if not isinstance(calls, list):
            raise MessageError(f"'tool_calls' is not a list ({type(calls).__name__})")
        content = data.get("content")
        return cls(
            role=data.get("role"),
            content="" if content is None and (calls or data.get("role") == "assistant") else content,
            train=data.get("train"),
            reasoning=reasoning,
            tool_calls=[ToolCall.from_dict(c) for c in calls],
            tool_call_id=_optional_str(data.get("tool_call_id")),
            name=_optional_str(data.get("name")),
        )

    @property
    def has_reply(self) -> bool:
        """An assistant message says something: text, reasoning or a tool call."""
        return bool(self.content.strip() or (self.reasoning or "").strip() or self.tool_calls)


@dataclass
class Conversation:
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""  # where the row came from, e.g. "data/train.jsonl:12"
    task: str = ""  # instruction type, e.g. "summarize" (empty when unknown)
    id: str = ""
    group: str = ""  # rows of one group always land in the same split

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"messages": [m.to_dict() for m in self.messages]}
        if self.tools:
            row["tools"] = self.tools
        row.update({"source": self.source, "task": self.task, "id": self.id, "group": self.group or self.id})
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Conversation":
        return cls(
            messages=[Message.from_dict(m) for m in row["messages"]],
            tools=list(row.get("tools") or []),
            source=row.get("source", ""),
            task=row.get("task", ""),
            id=row.get("id", ""),
            group=row.get("group", ""),
        )

    @property
    def assistant_turns(self) -> list[Message]:
        return [m for m in self.messages if m.role == "assistant"]


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
