"""Every current model family trains correctly: the original chat templates TRL ships, on four conversations
(single turn with a system prompt, three turns, reasoning, a tool call).

For each family and conversation, either every trained row passes the checks below, or the family cannot do that
conversation for a documented reason; the README's family table says which, and is compared with what happens.

Checks of a trained row, independent of how the labels were made:
  * the ids before each trained reply are exactly the generation prompt inference tokenizes at that turn;
  * each reply's trained tokens end on one of the template's end-of-turn tokens;
  * they hold the reply's answer, its reasoning (when trained) and its tool calls, nothing of any other message,
    and nothing else but text the template itself writes (its literal strings) and JSON punctuation.
Where TRL ships a ``*_training.jinja`` variant, its ``return_assistant_tokens_mask`` is compared with our labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from template_families import TEMPLATES, families, family_tokenizer, training_variant

from sft_recipes.chat.masking import IGNORE_INDEX, trained_spans
from sft_recipes.chat.tokenize import tokenize_conversation
from sft_recipes.data.rejects import Reject
from sft_recipes.chat.template_info import describe_template

README = Path(__file__).parent.parent / "README.md"
SYSTEM = {"role": "system", "content": "You are a careful assistant."}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def user(text):
    return {"role": "user", "content": text}


def assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


CONVERSATIONS = {
    "single": ([SYSTEM, user("What is the capital of France?"), assistant("The capital of France is Paris.")], None),
    "three": ([user("Name a prime number."), assistant("Seven is prime."), user("Name another one."),
               assistant("Eleven is prime too."), user("And an even prime?"), assistant("Two is the only even prime.")],
              None),
    "reasoning": ([user("What is 6 times 7?"), assistant("It is 42.", reasoning="Six sevens: 6 + 36 = 42."),
                   user("And 6 times 8?"), assistant("It is 48.", reasoning="One more six: 42 + 6 = 48.")], None),
    "tools": ([user("Weather in Paris?"),
               assistant("", tool_calls=[{"type": "function",
                                          "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]),
               {"role": "tool", "content": "18 C, sunny", "name": "get_weather", "tool_call_id": "call_1"},
               assistant("It is 18 C and sunny in Paris.")], TOOLS),
}
# The documented reasons a family cannot train a conversation (the README table uses these words).
REASONS = {
    "does not render the reasoning": "no: template drops reasoning",
    "does not render tool calls": "no: no tool calls",
    "does not render a tools list": "no: no tools list",
    "already closes the reasoning block": "no: thinking off by default",
}


@pytest.fixture(scope="module")
def family(smol_tokenizer):
    cache = {}

    def get(name):
        if name not in cache:
            tokenizer = family_tokenizer(smol_tokenizer, name)
            cache[name] = (tokenizer, describe_template(tokenizer))
        return cache[name]

    return get


def template_messages(messages, info):
    """The conversation as apply_chat_template takes it, the system text folded where the template has no role."""
    out = []
    for m in messages:
        t = {"role": m["role"], "content": m["content"]}
        if m.get("reasoning"):
            t["reasoning_content"] = m["reasoning"]
        if m.get("tool_calls"):
            calls = json.loads(json.dumps(m["tool_calls"]))
            if info.tool_arguments == "json":
                for c in calls:
                    c["function"]["arguments"] = json.dumps(c["function"]["arguments"])
            t["tool_calls"] = calls
        for key in ("name", "tool_call_id"):
            if m.get(key):
                t[key] = m[key]
        out.append(t)
    if not info.system_role and out and out[0]["role"] == "system":
        system, rest = out[0], out[1:]
        rest[0] = {**rest[0], "content": system["content"] + "\n\n" + rest[0]["content"]}
        out = rest
    return out


def outcome(tokenizer, info, name: str, kind: str) -> str:
    """What the family does with the conversation: "exact" (one row), "exact, per turn", or a documented reason."""
    messages, tools = CONVERSATIONS[kind]
    result = tokenize_conversation(tokenizer, messages, info=info, tools=tools)
    if isinstance(result, Reject):
        return next((v for k, v in REASONS.items() if k in result.reason), f"rejected: {result.reason}")
    rows = result if isinstance(result, list) else [result]
    check_rows(tokenizer, info, name, messages, tools, rows)
    return "exact, per turn" if rows[0].layout == "per_turn" else "exact"


def check_rows(tokenizer, info, name, messages, tools, rows):
    chat = template_messages(messages, info)
    offset = len(messages) - len(chat)  # a folded system message
    turns = [i for i, m in enumerate(chat) if m["role"] == "assistant"]
    spans = [(row, a, b) for row in rows for a, b in trained_spans(row.labels)]
    assert len(spans) == len(turns), f"{name}: {len(spans)} trained spans for {len(turns)} replies"
    literal = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    for i, (row, a, b) in zip(turns, spans):
        prompt = tokenizer.apply_chat_template(chat[:i], tools=tools, tokenize=False, add_generation_prompt=True)
        assert row.input_ids[:a] == tokenizer(prompt, add_special_tokens=False)["input_ids"], \
            f"{name}: the tokens before reply {i + 1} are not the generation prompt"
        assert row.input_ids[b - 1] in set(info.end_of_turn_ids), f"{name}: reply {i + 1} does not end a turn"
        text = tokenizer.decode(row.input_ids[a:b])
        message = messages[i + offset]
        own = [message["content"], message.get("reasoning") or ""]
        for call in message.get("tool_calls") or []:
            own += [call["function"]["name"], *call["function"]["arguments"], *call["function"]["arguments"].values()]
        for part in own:
            assert part.strip() in text, f"{name}: {part!r} missing from reply {i + 1}: {text!r}"
        for other in messages:
            if other is not message and other["content"].strip() and other["content"] not in message["content"]:
                assert other["content"] not in text, f"{name}: reply {i + 1} trains another message's text"
        residue = text
        for part in sorted((p for p in own if p.strip()), key=len, reverse=True):
            residue = residue.replace(part.strip(), "\0")
        specials = sorted({t.content for t in tokenizer.added_tokens_decoder.values() if t.special}, key=len,
                          reverse=True)
        for piece in re.split("(" + "|".join(map(re.escape, specials)) + r")|[\0\s{}\[\]\":,'()=]+", residue):
            assert not piece or piece in literal, \
                f"{name}: reply {i + 1} trains {piece!r}, which is neither the reply nor template text"


def readme_table() -> dict[str, list[str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- families:start -->")[1].split("<!-- families:end -->")[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:  # cells split at pipes that are not escaped ("\\|" in code)
        cells = [c.strip().strip("`").replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        rows[cells[0]] = cells[1:]
    return rows


def trl_difference(tokenizer, info, name: str) -> str:
    """Our labels vs TRL's assistant mask from its training template, on a two-turn conversation."""
    variant = training_variant(name)
    if variant is None:
        return "no training template"
    messages = CONVERSATIONS["three"][0][:4]
    ours = tokenize_conversation(tokenizer, messages, info=info)
    ours = ours if isinstance(ours, list) else [ours]
    trained = [tokenizer.decode(r.input_ids[a:b]) for r in ours for a, b in trained_spans(r.labels)]
    out = tokenizer.apply_chat_template(messages, chat_template=variant, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    theirs, run = [], []
    for token, m in zip(ids, mask):
        if m:
            run.append(token)
        elif run:
            theirs.append(tokenizer.decode(run))
            run = []
    if run:
        theirs.append(tokenizer.decode(run))
    if theirs == trained:
        return "same"
    extra = {t[len(o):] for t, o in zip(theirs, trained) if t.startswith(o) and t != o}
    if len(theirs) == len(trained) and len(extra) == 1 and all(t.startswith(o) for t, o in zip(theirs, trained)):
        return "TRL also: " + json.dumps(extra.pop(), ensure_ascii=False)
    return "differs: TRL " + " + ".join(json.dumps(t, ensure_ascii=False) for t in theirs)


@pytest.mark.parametrize("name", families())
def test_family_trains_single_and_multi_turn_exactly(family, name):
    tokenizer, info = family(name)
    assert outcome(tokenizer, info, name, "single").startswith("exact")
    assert outcome(tokenizer, info, name, "three").startswith("exact")


def test_readme_family_table_is_what_happens(family):
    table = readme_table()
    assert sorted(table) == families(), "the README table lists every family TRL ships (vision-only ones aside)"
    for name in families():
        tokenizer, info = family(name)
        observed = [outcome(tokenizer, info, name, kind) for kind in CONVERSATIONS]
        observed.append(", ".join(info.end_of_turn))
        observed.append(trl_difference(tokenizer, info, name))
        assert table[name] == observed, f"README row for {name}"


def test_reasoning_can_be_masked_where_a_template_drops_it(family):
    """A family without reasoning support trains the answers when told to (train_on_reasoning: false)."""
    tokenizer, info = family("llama3_1")
    messages, _ = CONVERSATIONS["reasoning"]
    assert isinstance(tokenize_conversation(tokenizer, messages, info=info), Reject)
    rows = tokenize_conversation(tokenizer, messages, info=info, train_on_reasoning=False)
    rows = rows if isinstance(rows, list) else [rows]
    texts = [tokenizer.decode(r.input_ids[a:b]) for r in rows for a, b in trained_spans(r.labels)]
    assert texts == ["It is 42.<|eot_id|>", "It is 48.<|eot_id|>"]


def test_masked_reasoning_stays_in_the_input(family):
    tokenizer, info = family("qwen3")
    messages, _ = CONVERSATIONS["reasoning"]
    rows = tokenize_conversation(tokenizer, messages, info=info, train_on_reasoning=False)
    for row, m in zip(rows, (messages[1], messages[3])):
        trained = tokenizer.decode([t for t, lab in zip(row.input_ids, row.labels) if lab != IGNORE_INDEX])
        assert m["reasoning"] in tokenizer.decode(row.input_ids) and m["reasoning"] not in trained
        assert trained.endswith(m["content"] + "<|im_end|>")


def test_thinking_switch_is_passed_to_the_template(smol_tokenizer):
    """Qwen3.5's no-think template closes the reasoning block in its generation prompt: reasoning cannot follow,
    so such rows are refused with the fix; with enable_thinking on, they train."""
    from sft_recipes.chat.templates import setup_chat_template

    messages, _ = CONVERSATIONS["reasoning"]
    off = family_tokenizer(smol_tokenizer, "qwen3_5_nothink")
    reject = tokenize_conversation(off, messages, info=setup_chat_template(off, "auto"))
    assert isinstance(reject, Reject) and "enable_thinking: true" in reject.reason
    on = family_tokenizer(smol_tokenizer, "qwen3_5_nothink")
    info = setup_chat_template(on, "auto", {"enable_thinking": True})
    rows = tokenize_conversation(on, messages, info=info)
    texts = [on.decode(r.input_ids[a:b]) for r in rows for a, b in trained_spans(r.labels)]
    assert texts == ["Six sevens: 6 + 36 = 42.\n</think>\n\nIt is 42.<|im_end|>",
                     "One more six: 42 + 6 = 48.\n</think>\n\nIt is 48.<|im_end|>"]


SHAPED_FAMILIES = set(families()) - {"gptoss", "muse_glimmer", "lfm2_2_5_vl", "lfm2_v2"}  # texts hold tested strings


@pytest.mark.parametrize("name", families())
def test_renders_by_shape_equal_real_renders(family, name):
    """Plain conversations are rendered once per conversation shape with the texts filled in (a speed-up): the
    stored turns and generation prompts must equal the template's own rendering of every conversation."""
    from sft_recipes.chat.render import Renderer

    tokenizer, info = family(name)
    conversations = []
    for kind in ("single", "three"):
        messages, _ = CONVERSATIONS[kind]
        chat, _ = Renderer(tokenizer, info).template_messages(messages)
        conversations += [chat[:i] for i, m in enumerate(chat) if m["role"] == "assistant"]
        conversations += [chat[: i + 1] for i, m in enumerate(chat) if m["role"] == "assistant"]
    for prompt in (True, False):
        renderer = Renderer(tokenizer, info)
        twice = conversations + conversations  # the second time from the shapes the first time checked
        shaped = renderer.render_by_shape(twice, add_generation_prompt=prompt)
        real = renderer.render_many(twice, add_generation_prompt=prompt)
        assert [s.text for s in shaped] == [r.text for r in real]
        if name in SHAPED_FAMILIES:
            assert any(v is not None for v in renderer._shapes.values()), "no shape used"
