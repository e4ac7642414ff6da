"""How each court-opinion task is scored (registered in ``tasks/registry.py`` by the package).

    case_name, court, holding   normalised exact match (SQuAD normalisation: "Reversed." matches "REVERSED",
                                but "VACATED" does not match "VACATED AND REMANDED")
    citations, statutes         set F1 over the listed items, each normalised (order and repeats do not matter;
                                "F. 3d" and "F.3d" agree); also ``citation_key_f1``, the F1 over the citations
                                eyecite finds in the answer ("477 U.S. 242"), whatever names surround them
    issue, summarize            token F1
"""

from __future__ import annotations

TASK_METRICS: dict[str, str] = {
    "court": "normalized_em",
    "case_name": "normalized_em",
    "holding": "normalized_em",
    "citations": "citation_f1",
    "statutes": "citation_f1",
    "summarize": "token_f1",
    "issue": "token_f1",
}


def task_scores(task: str, answer: str, reference: str) -> dict[str, float] | None:
    """The task-specific scores of one answer, or None for a task that is not a court-opinion task."""
    from sft_recipes.evaluation.metrics import citation_f1, contains, token_f1

    if task not in TASK_METRICS:
        return None
    if TASK_METRICS[task] == "citation_f1":
        scores = {"citation_f1": citation_f1(answer, reference)}
        if task == "citations":
            scores["citation_key_f1"] = citation_key_f1(answer, reference)
        return scores
    return {"contains": contains(answer, reference), "token_f1": token_f1(answer, reference)}


def citation_key_f1(answer: str, reference: str) -> float:
    """F1 between the sets of citations eyecite finds in two answers (volume, normalised reporter, page)."""
    from sft_recipes.evaluation.metrics import set_f1
    from sft_recipes.tasks.court_opinions.citations import citation_keys

    return set_f1(citation_keys(answer), citation_keys(reference))

