"""The court-opinion keys of a recipe's data section (flat, like every data key: ``court_tasks: [...]``)."""

from __future__ import annotations

from dataclasses import dataclass, field

EMBEDDED_COURT_DATA = "embedded:court-opinions"
EMBEDDED_COURT_HELDOUT_STYLE = "embedded:court-opinions-heldout-style"
EMBEDDED_COURT_CITATION_PRACTICE = "embedded:court-citation-practice"


@dataclass
class CourtOpinionArguments:
    legal_system_prompt: str | None = field(
        default=None, metadata={"help": "system prompt for court-opinion instructions (default: built in)"}
    )
    court_tasks: list[str] | None = field(
        default=None, metadata={"help": "court-opinion instruction types to build (default: the six; +statutes)"}
    )
    synthetic_opinions: int = field(default=400, metadata={"help": "size of the embedded synthetic court corpus"})
    synthetic_seed: int = field(default=1234, metadata={"help": "seed of the embedded synthetic court corpus"})
    synthetic_heldout_opinions: int = field(
        default=24, metadata={"help": f"size of {EMBEDDED_COURT_HELDOUT_STYLE} (writing styles never trained on)"}
    )
    synthetic_citation_passages: int = field(
        default=400, metadata={"help": f"size of {EMBEDDED_COURT_CITATION_PRACTICE}: short passages citing cases in "
                                       "sentences of every shape, up to four to a conversation, each with the "
                                       "citations question (training only)"}
    )
    synthetic_max_words: int | None = field(
        default=None, metadata={"help": "cap on the length of synthetic opinions, in words (default: up to ~2,400)"}
    )
