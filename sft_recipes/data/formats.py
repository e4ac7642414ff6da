"""Turn raw records into conversation rows, once, whatever the input format.

Formats (``format: auto`` picks one from the fields of the first records, after the column mapping):

    messages           {"messages": [{"role", "content", "train"?}, ...], "tools"?}  roles: system / user /
                       assistant / tool; assistant messages may carry ``reasoning`` (or ``reasoning_content`` /
                       ``thinking``) and OpenAI-style ``tool_calls``; tool messages ``tool_call_id`` / ``name``
    sharegpt           {"conversations": [{"from", "value"}, ...], "system"?, "tools"?}   from: human/user -> user,
                       gpt/assistant/model/bot/chatgpt -> assistant, system -> system, function_call -> an assistant
                       tool call (value: JSON {"name", "arguments"}, or a list of them), observation / tool -> a tool
                       result ("role"/"content" keys work too)
    <task format>      a task family's records (tasks/registry.py), e.g. court_opinions: flat opinions,
                       CourtListener opinions, Caselaw Access Project cases, .txt files -> one row per question
    alpaca             {"instruction", "input"?, "output", "system"?}           user = instruction, a blank line, input
    prompt_completion  {"prompt", "completion"}                                 each a string or a list of messages
    text               {"text"}                                                 a raw document: ONE assistant turn with
                       no user turn, trained on in full (``train: true``), so a base model learns the text itself

The alpaca user turn is ``instruction + "\\n\\n" + input``: a blank line keeps the two apart for the model the same way
the original Alpaca prompt did, without a template-specific header such as "### Input:" that a chat template would
then repeat.

``tools`` (a list of JSON schemas, or a JSON string of one, as LLaMA-Factory's ShareGPT files have it) is kept per
row; a dataset's ``tools`` in the recipe applies to its rows that have none.

``columns`` maps our field names to the file's (``{"instruction": "question", "output": "answer"}``); it applies to
top-level fields. A row that cannot be converted becomes a reject with the reason (``missing field 'output'``,
``content is not a string (int) in message 2``, ``unknown role 'narrator'``, ``empty output``); a whole file whose
format cannot be recognised is an error.

Each row gets ``id`` (the record's ``id`` field, or its source) and ``group`` (the id, so splitting keeps a record's
rows together; a task builder uses the document's id for all the rows built from one document).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from tqdm.auto import tqdm

from sft_recipes.chat.templates import join_instruction_input
from sft_recipes.recipe import FORMATS
from sft_recipes.conversation import ROLES, Message, MessageError, ToolCall
from sft_recipes.data.rejects import Reject
from sft_recipes.data.sources import DataSourceError, SourceRecord
from sft_recipes.tasks.registry import task_formats

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "chatgpt": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
DETECT_SAMPLE = 100  # records whose fields are looked at to detect the format
PROGRESS_FROM = 20_000  # show a progress bar for datasets at least this large


class RowRejected(Exception):
    """One record cannot be converted; the message is the reject reason."""


@dataclass
class ConvertResult:
    rows: list[dict[str, Any]]
    rejects: list[Reject] = field(default_factory=list)
    format: str = ""


def convert_records(
    records: list[SourceRecord],
    fmt: str = "auto",
    columns: dict[str, str] | None = None,
    *,
    name: str = "",
    task_options: Any = None,
) -> ConvertResult:
    """Convert every record of one dataset (``name`` is used in error messages). ``task_options`` (the recipe's
    data section) goes to a task family's builder: which tasks to build, its system prompt."""
    if fmt not in FORMATS:
        raise DataSourceError(f"{name}: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    columns = dict(columns or {})
    sample = [r.data for r in records[:DETECT_SAMPLE]]
    _check_columns(sample, columns, name)
    if fmt == "auto":
        fmt = detect_format(_fields(_rename(d, columns) for d in sample), name)
    result = ConvertResult(rows=[], format=fmt)
    task_format = task_formats().get(fmt)
    if task_format is not None:
        for rec in records:
            rows, rejects = task_format.build(_rename(rec.data, columns), rec.source, task_options)
            result.rows.extend(rows)
            result.rejects.extend(rejects)
        return result
    convert = CONVERTERS[fmt]
    bar = tqdm(records, desc=f"converting {name}", unit="rows", disable=len(records) < PROGRESS_FROM, leave=False)
    for rec in bar:
        data = _rename(rec.data, columns) if columns else rec.data
        try:
            messages = convert(data)
            _check_conversation(messages)
            tools = _tools(data)
        except RowRejected as e:
            result.rejects.append(Reject(_mapped_reason(str(e), columns), rec.source, rec.data))
            continue
        record_id = _record_id(data, rec.source)
        row: dict[str, Any] = {"messages": messages}
        if tools:
            row["tools"] = tools
        row.update({"source": rec.source, "task": "", "id": record_id, "group": record_id})
        result.rows.append(row)
    return result


def detect_format(fields: set[str], name: str = "") -> str:
    """The format implied by a set of field names; an error when nothing fits."""
    if "messages" in fields:
        return "messages"
    if "conversations" in fields:
        return "sharegpt"
    for task_format in task_formats().values():
        if task_format.looks_like(fields):
            return task_format.name
    if {"instruction", "output"} <= fields:
        return "alpaca"
    if {"prompt", "completion"} <= fields:
        return "prompt_completion"
    if "text" in fields:
        return "text"
    raise DataSourceError(
        f"{name}: cannot tell the format from the fields {sorted(fields)} (expected instruction/output, "
        f"conversations, messages, prompt/completion, text, or {' or '.join(_task_format_names())}; set format: "
        "and columns: in the recipe)"
    )


def _task_format_names() -> list[str]:
    return [f.description or f.name for f in task_formats().values()] or ["a task family's records"]


def add_system_prompt(row: dict[str, Any], prompt: str | None) -> dict[str, Any]:
    """Give a row without a system message this one (rows that have one keep theirs)."""
    if prompt and not any(m["role"] == "system" for m in row["messages"]):
        row["messages"].insert(0, message("system", prompt))
    return row


def message(role: str, content: str, train: bool | None = None) -> dict[str, Any]:
    return Message(role, content, train).to_dict()


# --- one converter per format: record -> messages, or RowRejected -------------------------------------------------


def from_alpaca(data: dict[str, Any]) -> list[dict[str, Any]]:
    instruction = _required_string(data, "instruction")
    output = _required_string(data, "output")
    extra = _optional_string(data, "input")
    system = _optional_string(data, "system")
    if not instruction.strip():
        raise RowRejected("empty instruction")
    if not output.strip():
        raise RowRejected("empty output")
    user = join_instruction_input(instruction, extra if extra.strip() else None)
    messages = [message("system", system)] if system.strip() else []
    return messages + [message("user", user), message("assistant", output)]


def from_sharegpt(data: dict[str, Any]) -> list[dict[str, Any]]:
    turns = _required_list(data, "conversations")
    system = _optional_string(data, "system")
    messages = [message("system", system)] if system.strip() else []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise RowRejected(f"turn {i} is not an object ({type(turn).__name__})")
        speaker = turn.get("from", turn.get("role"))
        content = turn.get("value", turn.get("content"))
        if speaker is None:
            raise RowRejected(f"missing field 'from' in turn {i}")
        role = SHAREGPT_ROLES.get(str(speaker).lower())
        if role is None:
            raise RowRejected(f"unknown role {speaker!r}")
        if str(speaker).lower() == "function_call":
            call = _function_call(_content(content, i), i)
            if messages and messages[-1]["role"] == "assistant" and not messages[-1].get("tool_calls"):
                messages[-1]["tool_calls"] = call["tool_calls"]  # text, then the call: one assistant turn
            else:
                messages.append(call)
        else:
            messages.append(message(role, _content(content, i)))
    return messages


def _function_call(value: str, index: int) -> dict[str, Any]:
    """A ShareGPT ``function_call`` turn: JSON ``{"name", "arguments"}`` (or a list of them) -> an assistant tool call."""
    try:
        calls = json.loads(value)
    except json.JSONDecodeError as e:
        raise RowRejected(f"function_call in turn {index} is not valid JSON ({e.msg})") from None
    calls = calls if isinstance(calls, list) else [calls]
    try:
        return Message("assistant", "", tool_calls=[ToolCall.from_dict(c) for c in calls]).to_dict()
    except MessageError as e:
        raise RowRejected(f"turn {index}: {e}") from None


def from_messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    return _message_list(_required_list(data, "messages"))


def from_prompt_completion(data: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("prompt", "completion"):
        if key not in data or data[key] is None:
            raise RowRejected(f"missing field {key!r}")
    prompt, completion = data["prompt"], data["completion"]
    if isinstance(prompt, str):
        prompt_messages = [message("user", prompt)]
    elif isinstance(prompt, list):
        prompt_messages = _message_list(prompt)
    else:
        raise RowRejected(f"field 'prompt' is not a string or a list of messages ({type(prompt).__name__})")
    if isinstance(completion, str):
        if not completion.strip():
            raise RowRejected("empty completion")
        completion_messages = [message("assistant", completion)]
    elif isinstance(completion, list):
        completion_messages = _message_list(completion, first=len(prompt_messages) + 1)
    else:
        raise RowRejected(f"field 'completion' is not a string or a list of messages ({type(completion).__name__})")
    return prompt_messages + completion_messages


def from_text(data: dict[str, Any]) -> list[dict[str, Any]]:
    text = _required_string(data, "text")
    if not text.strip():
        raise RowRejected("empty text")
    return [message("assistant", text, train=True)]


CONVERTERS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "alpaca": from_alpaca,
    "sharegpt": from_sharegpt,
    "messages": from_messages,
    "prompt_completion": from_prompt_completion,
    "text": from_text,
}


# --- helpers -------------------------------------------------------------------------------------------------------


def _message_list(items: list[Any], first: int = 1) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items, start=first):
        if not isinstance(item, dict):
            raise RowRejected(f"message {i} is not an object ({type(item).__name__})")
        if "role" not in item:
            raise RowRejected(f"missing field 'role' in message {i}")
        role = item["role"]
        if role not in ROLES:
            raise RowRejected(f"unknown role {role!r}")
        train = item.get("train")
        if train is not None and not isinstance(train, bool):
            raise RowRejected(f"'train' is not a boolean ({type(train).__name__}) in message {i}")
        if not (role == "assistant" and item.get("tool_calls") and item.get("content") is None):
            _content(item.get("content"), i)
        try:
            out.append(Message.from_dict(item).to_dict())
        except MessageError as e:
            raise RowRejected(f"{e} in message {i}") from None
    return out


def _tools(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's ``tools``: a list of JSON schemas, or a JSON string of one (LLaMA-Factory's ShareGPT)."""
    tools = data.get("tools")
    if tools is None or tools == "":
        return []
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as e:
            raise RowRejected(f"field 'tools' is not valid JSON ({e.msg})") from None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise RowRejected("field 'tools' is not a list of JSON schemas")
    return [t if "function" in t or t.get("type") == "function" else {"type": "function", "function": t}
            for t in tools]


def _content(value: Any, index: int) -> str:
    if value is None:
        raise RowRejected(f"missing content in message {index}")
    if not isinstance(value, str):
        raise RowRejected(f"content is not a string ({type(value).__name__}) in message {index}")
    return value


def _check_conversation(messages: list[dict[str, Any]]) -> None:
    if not messages:
        raise RowRejected("no messages")
    if not any(m["role"] == "assistant" for m in messages):
        raise RowRejected("no assistant message")
    problem = turn_order_problem(messages)
    if problem:
        raise RowRejected(problem)


def turn_order_problem(messages: list[dict[str, Any]]) -> str | None:
    """Turn orders that cannot be trained as they stand (None: fine).

    A conversation ending on a user turn that is not trained itself has nothing answering it: usually a cut-off
    conversation, and templates render it as a prompt waiting for a reply. Two assistant turns in a row are usually
    one reply split in two or a duplicated reply, and templates that require alternating roles refuse them. Both are
    rejected with the reason (counted, written to rejects.jsonl) rather than trimmed or merged silently. Any other
    role between two assistant turns (a tool result after a tool call) keeps them apart.
    """
    turns = [m for m in messages if m["role"] != "system"]
    if turns and turns[-1]["role"] == "user" and turns[-1].get("train") is not True:
        return "ends on a user turn that nothing answers"
    if any(a["role"] == b["role"] == "assistant" for a, b in zip(turns, turns[1:])):
        return "two assistant turns in a row"
    return None


def _field(data: dict[str, Any], key: str, kind: type, required: bool = True) -> Any:
    """``data[key]`` checked to be a ``kind``; a missing optional field is an empty ``kind``."""
    value = data.get(key)
    if value is None:
        if required:
            raise RowRejected(f"missing field {key!r}")
        return kind()
    if not isinstance(value, kind):
        name = "a string" if kind is str else f"a {kind.__name__}"
        raise RowRejected(f"field {key!r} is not {name} ({type(value).__name__})")
    return value


def _required_string(data: dict[str, Any], key: str) -> str:
    return _field(data, key, str)


def _optional_string(data: dict[str, Any], key: str) -> str:
    return _field(data, key, str, required=False)


def _required_list(data: dict[str, Any], key: str) -> list[Any]:
    return _field(data, key, list)


def _record_id(data: dict[str, Any], source: str) -> str:
    value = data.get("id")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else source


def _rename(data: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    if not columns:
        return data
    out = {k: v for k, v in data.items() if k not in columns.values()}
    for ours, theirs in columns.items():
        if theirs in data:
            out[ours] = data[theirs]
    return out


def _fields(records: Any) -> set[str]:
    out: set[str] = set()
    for data in records:
        out.update(data)
    return out


def _check_columns(sample: list[dict[str, Any]], columns: dict[str, str], name: str) -> None:
    """A mapped field that no record has is a typo in the recipe: say so before rejecting every row."""
    present = _fields(sample)
    for ours, theirs in columns.items():
        if theirs not in present:
            raise DataSourceError(
                f"{name}: columns maps {ours!r} to {theirs!r}, but the data has no field {theirs!r} "
                f"(fields: {', '.join(sorted(present))})"
            )


def _mapped_reason(reason: str, columns: dict[str, str]) -> str:
    """Name the file's own field too, so a reason like "missing field 'output'" can be found in the file."""
    for ours, theirs in columns.items():
        if f"field {ours!r}" in reason:
            return reason.replace(f"field {ours!r}", f"field {ours!r} (column {theirs!r})")
    return reason
