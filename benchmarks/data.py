"""Seeded Alpaca-style instruction data with the length profile of real instruction sets.

Real Alpaca rows rendered with SmolLM2's chat template (its default system prompt included) average about 60 tokens
and rarely pass 100; that profile decides how much a padding strategy wastes, so the synthetic rows follow it:
short instructions, an optional input (about 40% of rows, as in Alpaca), and answers whose length is long-tailed
but capped. The ``long_tail`` variant turns a share of the answers into passages of 400-1000 tokens, the case where
padding to the longest row in a random batch hurts most.

Prompts are unique by construction: deduplication and the split leak check in ``prepare`` keep every row, so
every contender trains on exactly the rows generated.
"""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path
from typing import Any

WORDS = (
    "time year people way day man thing woman life child world school state family student group country problem "
    "hand part place case week company system program question work government number night point home water room "
    "mother area money story fact month lot right study book eye job word business issue side kind head house "
    "service friend father power hour game line end member law car city community name president team minute idea "
    "kid body information back parent face others level office door health person art war history party result "
    "change morning reason research girl guy moment air teacher force education foot boy age policy process music "
    "market sense nation plan college interest death experience effect use class control care field development "
    "role effort rate heart drug show leader light voice wife police mind price report decision son view "
    "relationship town road arm difference value building action model season society tax director position player "
    "record paper space ground form event official matter center couple site project activity star table need court "
    "oil situation cost industry figure street image phone data picture practice piece land product doctor wall "
    "patient worker news test movie north love support technology step baby computer type attention film tree "
    "source organization hair window evidence population site energy river garden network language method analysis "
    "simple clear quick important small large early young different local social national political economic "
    "strong possible whole free military true federal international full special easy public human recent certain "
    "personal open red difficult available likely short single medical current wrong private past foreign fine "
    "common poor natural significant similar hot dead central happy serious ready left physical general "
    "environmental financial blue democratic dark various entire close legal religious cold final main green nice "
    "huge popular traditional cultural describe explain improve create consider develop provide include continue "
    "learn change lead understand follow stop speak read allow add spend grow open walk win offer remember appear "
    "buy wait serve die send expect build stay fall cut reach kill remain suggest raise pass sell require decide"
).split()

INSTRUCTIONS = (
    "Describe the {a} of a {b}.",
    "Explain why {a} matters for {b}.",
    "Give three tips for improving {a}.",
    "Write a short story about a {a} and a {b}.",
    "Summarize the following text.",
    "Rewrite the following sentence in a formal tone.",
    "Classify the following item as {a} or {b}.",
    "Generate a list of ideas about {a}.",
    "What is the difference between {a} and {b}?",
    "Suggest a name for a {a} that helps with {b}.",
    "Translate the following sentence into plain English.",
    "Identify the main {a} in the text below.",
    "Compose a tweet about {a} and {b}.",
    "How can a {a} reduce its {b}?",
    "Find the odd one out in the list below.",
    "Create a question about {a} for a {b} quiz.",
)


def _sentence(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(max(1, n_words))]
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, n_words: int) -> str:
    """Sentences of 5-14 words until ``n_words`` words are used."""
    parts: list[str] = []
    left = n_words
    while left > 0:
        k = min(left, rng.randint(5, 14))
        parts.append(_sentence(rng, k))
        left -= k
    return " ".join(parts)


def alpaca_rows(n: int, seed: int = 0, long_share: float = 0.0) -> list[dict[str, Any]]:
    """``n`` unique Alpaca records ``{"instruction", "input", "output"}``.

    Answer lengths in words follow a clipped log-normal (median ~11 words, capped at 32), matching the
    short-answer bulk and the tail of real instruction data. With ``long_share`` > 0 that share of the rows get
    330-820-word answers (about 400-1000 tokens once rendered).
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    n_long = max(1, round(n * long_share)) if long_share > 0 else 0
    long_at = set(rng.sample(range(n), n_long)) if n_long else set()
    while len(rows) < n:
        template = rng.choice(INSTRUCTIONS)
        instruction = template.format(a=rng.choice(WORDS), b=rng.choice(WORDS))
        # An instruction without a slot ("Summarize the following text.") always comes with an input, as in
        # Alpaca; otherwise its prompt would repeat and the leak check of the splits would rightly drop rows.
        needs_input = "{" not in template
        extra = _text(rng, rng.randint(4, 15)) if needs_input or rng.random() < 0.2 else ""
        if len(rows) in long_at:
            answer_words = rng.randint(330, 820)
        else:
            answer_words = int(min(32, max(2, rng.lognormvariate(2.35, 0.55))))
        output = _text(rng, answer_words)
        key = (instruction, extra)  # unique prompts: no row is a duplicate or a cross-split leak of another
        if key in seen:
            continue
        seen.add(key)
        rows.append({"instruction": instruction, "input": extra, "output": output})
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def to_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation an Alpaca record becomes (the same join of instruction and input as sft-recipes uses)."""
    from sft_recipes.chat.templates import join_instruction_input

    user = join_instruction_input(record["instruction"], record.get("input") or None)
    return [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]


def length_profile(lengths: list[int]) -> dict[str, float]:
    """Token lengths after chat templating: the figures that decide padding waste."""
    ordered = sorted(lengths)
    return {
        "rows": len(ordered),
        "mean": round(statistics.fmean(ordered), 1),
        "median": float(ordered[len(ordered) // 2]),
        "p95": float(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]),
        "max": float(ordered[-1]),
        "over_400": sum(1 for x in ordered if x >= 400),
    }


def templated_lengths(rows: list[dict[str, Any]], tokenizer) -> list[int]:
    """Token count of each record rendered with the tokenizer's own chat template."""
    texts = tokenizer.apply_chat_template([to_messages(r) for r in rows], tokenize=False)
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
