"""Court opinions as instruction data: read any record shape, ask six questions answerable from the prompt.

    readers.py       record shapes (flat, CourtListener, Caselaw Access Project, plain text) -> ``Opinion``
    caption.py       the caption on top of the prompt (the record's, when the text lacks one); courts-db
    citations.py     case and statute citations with eyecite
    dispositions.py  the disposition in any tense and multi-part form
    answers.py       each task's answer and the spans of the prompt that hold it
    prompts.py       system prompt and the questions, in several phrasings
    builder.py       one record -> one row per task (+ rejects)
    metrics.py       each task's headline metric; citation-list scores
    arguments.py     the recipe's court-opinion data keys (court_tasks, legal_system_prompt, synthetic_*)
    synthetic/       the embedded synthetic corpus (with a held-out writing-style split)

The package registers the family (format, metrics) in ``tasks/registry.py`` when it is imported.
"""

from sft_recipes.tasks.court_opinions.builder import CourtDataError, build_instruction_rows, check_tasks
from sft_recipes.tasks.court_opinions.prompts import (
    INSTRUCTIONS,
    LEGAL_SYSTEM_PROMPT,
    OPTIONAL_TASKS,
    PHRASINGS,
    TASKS,
    task_of_question,
)
from sft_recipes.tasks.court_opinions.metrics import TASK_METRICS, task_scores
from sft_recipes.tasks.court_opinions.readers import COURTLISTENER_TEXT_FIELDS
from sft_recipes.tasks.registry import TaskFamily, TaskFormat, register

FORMAT = "court_opinions"

__all__ = [
    "FORMAT", "TASKS", "OPTIONAL_TASKS", "INSTRUCTIONS", "PHRASINGS", "LEGAL_SYSTEM_PROMPT", "CourtDataError",
    "build_instruction_rows", "build_rows", "check_tasks", "looks_like_opinions", "task_of_question",
]


def looks_like_opinions(fields: set[str]) -> bool:
    """Do records with these fields look like court opinions (for ``format: auto``)?"""
    if "casebody" in fields or fields & set(COURTLISTENER_TEXT_FIELDS) - {"html"}:
        return True
    return "text" in fields and bool({"case_name", "court", "court_id"} & fields)


def build_rows(record: dict, source: str, options=None):
    """One record's rows and rejects, with the recipe's ``court_tasks`` and ``legal_system_prompt`` (``options``)."""
    return build_instruction_rows(record, source, tasks=getattr(options, "court_tasks", None),
                                  system_prompt=getattr(options, "legal_system_prompt", None))


register(TaskFamily(FORMAT, TASK_METRICS, task_scores, TaskFormat(FORMAT, looks_like_opinions, build_rows,
                                                                        "a court opinion")))
