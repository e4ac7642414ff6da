"""What the model is asked: the system prompt and each task's question, in several phrasings.

Every phrasing of a task asks for the same answer in the same format, so a model learns the task rather than one
sentence. Which phrasing a row gets is fixed by the opinion id and the task (a hash, not a random draw), so the same
data always gives the same rows. The first phrasing of each task is its canonical one (``INSTRUCTIONS``).
"""

from __future__ import annotations

import hashlib

TASKS = ("summarize", "holding", "citations", "court", "issue", "case_name")
OPTIONAL_TASKS = ("statutes",)

PHRASINGS: dict[str, tuple[str, ...]] = {
    "summarize": (
        "Summarize this court opinion in a few sentences taken from it: the caption, the opening sentence of each "
        "main paragraph, the holding, and the disposition.",
        "Give an extractive summary of the opinion: case name, court and year, then the first sentence of each main "
        "paragraph, the sentence announcing the holding, and the disposition.",
        "Write a short summary of this decision using sentences from the opinion itself (caption, opening sentences "
        "of the main paragraphs, holding, disposition).",
        "Summarize the opinion above with its own sentences: caption first, then each main paragraph's opening "
        "sentence, the holding, and the disposition.",
    ),
    "holding": (
        "What is the disposition of this opinion? Answer with the disposition words only, in capitals (for "
        "example: AFFIRMED, or REVERSED AND REMANDED).",
        "How did the court dispose of the case? Give only the disposition in capitals, such as AFFIRMED or VACATED "
        "AND REMANDED.",
        "State the outcome of this decision as disposition words in capital letters (e.g. REVERSED, or AFFIRMED IN "
        "PART AND REVERSED IN PART).",
        "What did the court do with the judgment or petition before it? Reply with the disposition only, in "
        "capitals, like DENIED or REVERSED AND REMANDED.",
    ),
    "citations": (
        "List the case citations in this opinion, one per line.",
        "Which cases does this opinion cite? List each full citation once, one per line.",
        "Extract every case cited in full in this opinion: one citation per line, in the order they first appear.",
        "Give the list of cases this decision relies on, one full citation per line.",
    ),
    "court": (
        "Which court issued this opinion? Answer with the court's name only.",
        "Name the court that decided this case. Give the court's name and nothing else.",
        "What court is this opinion from? Reply with just the name of the court.",
        "Identify the court that issued this decision (the court's name only).",
    ),
    "issue": (
        "State the key legal issue this opinion decides, in one sentence.",
        "What question does the court decide in this opinion? Quote the sentence that states it.",
        "In one sentence, what is the legal issue before the court?",
        "Give the sentence of the opinion that states the question to be decided.",
    ),
    "case_name": (
        "What is the name of this case? Answer with the case name only.",
        "Give the name of this case and nothing else.",
        "What is this case called? Reply with the case name only.",
        "State the case name of this opinion.",
    ),
    "statutes": (
        "List the statutes and codes this opinion cites, one per line.",
        "Which statutory provisions does this opinion cite? One per line.",
    ),
}
INSTRUCTIONS = {task: phrasings[0] for task, phrasings in PHRASINGS.items()}

LEGAL_SYSTEM_PROMPT = (
    "You are a legal research assistant. Answer questions about the court opinion you are given using only "
    "that opinion. Be exact and brief; follow the requested answer format."
)


def question(task: str, opinion_id: str, phrasings: str = "varied") -> str:
    """The question of one row: a phrasing picked by (opinion id, task), or the canonical one."""
    options = PHRASINGS[task]
    if phrasings == "canonical":
        return options[0]
    digest = hashlib.sha256(f"{opinion_id}\x1f{task}".encode()).digest()
    return options[digest[0] % len(options)]


def task_of_question(text: str) -> str | None:
    """The task a question (any phrasing) belongs to, or None."""
    for task, options in PHRASINGS.items():
        if text.strip() in options:
            return task
    return None
