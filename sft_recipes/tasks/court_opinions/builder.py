"""One court opinion -> one instruction row per task, each answerable from its prompt.

A record in any supported shape (readers.py) becomes a document: the opinion text, with the record's caption on top
when the text lacks one (caption.py). Each row's user turn is that document, a blank line, then the task's question
(the question last, next to where the answer starts); the system turn is a legal-research-assistant prompt; the
assistant turn is the answer, derived by a fixed rule (answers.py), so the same opinion always gives the same
answers and an evaluation can compare them exactly.

Each row also says where its answer is: ``evidence`` lists ``[start, end]`` character spans of the user turn that
hold it, and ``caption`` is "added" when the record's caption was put on top ("text" when the opinion's own caption
is used). When an answer is not in the prompt, that row is not built and becomes a reject naming the task and why;
the opinion's other rows are kept. All rows of one opinion share ``group`` = the opinion id, so a split keeps them
together.
"""

from __future__ import annotations

import difflib
from typing import Any

from sft_recipes import SFTRecipesError
from sft_recipes.data.rejects import Reject
from sft_recipes.tasks.court_opinions.answers import Answer, derive_answers
from sft_recipes.tasks.court_opinions.caption import Document, make_document
from sft_recipes.tasks.court_opinions.prompts import LEGAL_SYSTEM_PROMPT, OPTIONAL_TASKS, TASKS, question
from sft_recipes.tasks.court_opinions.readers import NotAnOpinion, Opinion, read_opinion


class CourtDataError(SFTRecipesError):
    pass


def check_tasks(tasks: list[str] | None) -> tuple[str, ...]:
    """The tasks to build, in a fixed order; an unknown name is an error with a suggestion."""
    if tasks is None:
        return TASKS
    known = TASKS + OPTIONAL_TASKS
    for task in tasks:
        if task not in known:
            close = difflib.get_close_matches(task, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (expected some of {', '.join(known)})"
            raise CourtDataError(f"court_tasks: unknown task {task!r}{hint}")
    if not tasks:
        raise CourtDataError("court_tasks: empty list (leave it unset to build the six default tasks)")
    return tuple(t for t in known if t in tasks)


def build_instruction_rows(
    record: dict[str, Any],
    source: str,
    tasks: list[str] | None = None,
    system_prompt: str | None = None,
    phrasings: str = "varied",
) -> tuple[list[dict[str, Any]], list[Reject]]:
    """The instruction rows of one opinion, and a reject for each task whose answer the prompt cannot support."""
    selected = check_tasks(tasks)
    try:
        opinion = read_opinion(record, source)
    except NotAnOpinion as e:
        return [], [Reject(str(e), source, record)]
    doc = make_document(opinion)
    answers = derive_answers(doc, selected)
    rows, rejects = [], []
    for task in selected:
        answer = answers[task]
        if not isinstance(answer, Answer):
            rejects.append(Reject(f"cannot derive {task!r}: {answer.reason}", source, record))
            continue
        rows.append(_row(opinion, doc, task, answer, source, system_prompt or LEGAL_SYSTEM_PROMPT, phrasings))
    return rows, rejects


def _row(opinion: Opinion, doc: Document, task: str, answer: Answer, source: str, system: str,
         phrasings: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": system, "train": None},
            {"role": "user", "content": f"{doc.text}\n\n{question(task, opinion.id, phrasings)}", "train": None},
            {"role": "assistant", "content": answer.text, "train": None},
        ],
        "source": source,
        "task": task,
        "id": f"{opinion.id}:{task}",
        "group": opinion.id,
        "evidence": [span.as_list() for span in answer.evidence],
        "caption": "added" if doc.caption_added else "text",
    }
