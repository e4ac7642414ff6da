"""The one data model: a conversation is a list of messages (role, content, trained or not).

Every input format converts into it once (see ``data/formats.py``); everything after works on it.
Rows travel through ``datasets`` as plain dicts, so the model is also defined as a dict shape:

    {"messages": [{"role": "user", "content": "...", "train": false}, ...],
     "source": "data/alpaca.json:17", "task": "summarize", "id": "..."}

``train`` is None when the recipe's masking policy decides (assistant turns by default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


@dataclass
class Message:
    role: str
    content: str
    train: bool | None = None  # None: decided by the masking policy (assistant turns are trained)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r} (expected one of {', '.join(ROLES)})")
        if not isinstance(self.content, str):
            raise ValueError(f"message content must be a string, got {type(self.content).__name__}")


@dataclass
class Conversation:
    messages: list[Message]
    source: str = ""  # where the row came from, e.g. "data/train.jsonl:12"
    task: str = ""  # instruction type, e.g. "summarize" (empty when unknown)
    id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {
            "messages": [asdict(m) for m in self.messages],
            "source": self.source,
            "task": self.task,
            "id": self.id,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Conversation":
        return cls(
            messages=[Message(m["role"], m["content"], m.get("train")) for m in row["messages"]],
            source=row.get("source", ""),
            task=row.get("task", ""),
            id=row.get("id", ""),
        )

    @property
    def assistant_turns(self) -> list[Message]:
        return [m for m in self.messages if m.role == "assistant"]


def chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Messages as a chat template expects them: role and content only."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]
