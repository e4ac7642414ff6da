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
        "Summarize this opinion in its own sentences: caption, question, holding, disposition.",
        "Give an extractive summary of the opinion (caption, question, holding, disposition).",
        "Summarize the decision using sentences from the opinion.",
        "Write an extractive summary of this opinion.",
    ),
    "holding": (
        "What is the disposition? Answer in capitals, e.g. AFFIRMED or REVERSED AND REMANDED.",
        "How did the court dispose of the case? Capitals only, e.g. VACATED AND REMANDED.",
        "Give the disposition of this opinion in capital letters.",
        "What did the court do? Disposition words only, in capitals.",
    ),
    "citations": (
        "List the case citations in this opinion, one per line.",
        "Which cases does this opinion cite? One full citation per line.",
        "Extract the cases cited in full, one per line.",
        "List the cases this decision relies on, one per line.",
    ),
    "court": (
        "Which court issued this opinion? Name only.",
        "Name the court that decided this case.",
        "What court is this opinion from?",
        "Which court decided this? Give its name only.",
    ),
    "issue": (
        "State the legal issue this opinion decides, in one sentence.",
        "What question does the court decide? Quote the sentence.",
        "What is the issue before the court?",
        "Quote the sentence stating the question decided.",
    ),
    "case_name": (
        "What is the name of this case? Name only.",
        "Give the case name.",
        "What is this case called?",
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
