"""The embedded synthetic court-opinion corpus (generator.py), with a held-out writing-style split.

    embedded:court-opinions                  ``synthetic_opinions`` opinions in the training styles
    embedded:court-opinions-heldout-style    ``synthetic_heldout_opinions`` opinions in styles never used in training
    embedded:court-citation-practice         ``synthetic_citation_passages`` short passages, each with the citations
                                             question (passages.py); conversations, rows that only ever train
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sft_recipes.data.jsonl import write_jsonl
from sft_recipes.tasks.court_opinions.arguments import (
    EMBEDDED_COURT_CITATION_PRACTICE,
    EMBEDDED_COURT_DATA,
    EMBEDDED_COURT_HELDOUT_STYLE,
)
from sft_recipes.tasks.court_opinions.synthetic.generator import (
    SyntheticOpinion,
    generate_opinion,
    generate_opinions,
)

EMBEDDED = EMBEDDED_COURT_DATA
EMBEDDED_HELDOUT_STYLE = EMBEDDED_COURT_HELDOUT_STYLE
EMBEDDED_CITATION_PRACTICE = EMBEDDED_COURT_CITATION_PRACTICE
EMBEDDED_PATHS = (EMBEDDED, EMBEDDED_HELDOUT_STYLE, EMBEDDED_CITATION_PRACTICE)
HELDOUT_SEED_OFFSET = 1  # the held-out split is drawn with seed + 1: no opinion is shared with training

__all__ = ["EMBEDDED", "EMBEDDED_CITATION_PRACTICE", "EMBEDDED_HELDOUT_STYLE", "EMBEDDED_PATHS", "SyntheticOpinion",
           "embedded_format", "embedded_records", "embedded_train_only", "generate_opinion", "generate_opinions",
           "generate_records", "write_corpus"]


def generate_records(n: int, seed: int, styles: str = "train", max_words: int | None = None) -> list[dict[str, Any]]:
    """The corpus as court-opinion records (what ``write_corpus`` writes, one per line)."""
    return [o.record for o in generate_opinions(n, seed, styles, max_words)]


def write_corpus(path: str | Path, n: int, seed: int, styles: str = "train", max_words: int | None = None) -> Path:
    """Write ``n`` synthetic opinions as JSON lines (the ``court_opinions`` format)."""
    return write_jsonl(path, generate_records(n, seed, styles, max_words))


def embedded_records(path: str, data_args: Any) -> list[dict[str, Any]] | None:
    """The records an ``embedded:`` dataset path names (sized and seeded by the recipe), or None if it names none."""
    if path == EMBEDDED:
        return generate_records(data_args.synthetic_opinions, data_args.synthetic_seed, "train",
                                data_args.synthetic_max_words)
    if path == EMBEDDED_HELDOUT_STYLE:
        return generate_records(data_args.synthetic_heldout_opinions,
                                data_args.synthetic_seed + HELDOUT_SEED_OFFSET, "heldout",
                                data_args.synthetic_max_words)
    if path == EMBEDDED_CITATION_PRACTICE:
        from sft_recipes.tasks.court_opinions.synthetic.passages import citation_practice

        return citation_practice(data_args.synthetic_citation_passages, data_args.synthetic_seed,
                                 data_args.legal_system_prompt)
    return None


def embedded_format(path: str) -> str:
    """The format an ``embedded:`` dataset's records are in: opinions, or conversations for citation practice."""
    from sft_recipes.tasks.court_opinions import FORMAT

    return "messages" if path == EMBEDDED_CITATION_PRACTICE else FORMAT


def embedded_train_only(path: str) -> bool:
    """Citation practice only ever trains: it is not a task anyone evaluates on."""
    return path == EMBEDDED_CITATION_PRACTICE
