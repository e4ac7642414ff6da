"""Citation practice: short passages that cite cases in sentences put together at random, each followed by the
citations question.

A model that learns to list citations from whole opinions alone learns the few sentence shapes the opinions cite in,
and misses a citation written another way (at the head of a sentence, after "as the court explained in", inside a
parenthesis). A passage here is two to eight sentences of an opinion's analysis: one to five cases, each cited in a
sentence composed from independent parts (where the citation sits, the words before it, a signal or none, a pin cite,
parallel citations, an explanatory parenthetical), with short forms, statutes and argument sentences between them.
Several passages make one conversation (up to ``PER_CONVERSATION`` question-answer turns citing at most
``CASES_PER_CONVERSATION`` cases, which keeps it within the quickstart's 1,536 tokens), so practice costs few training
steps.

The answer is derived from the passage by the task builder's own rule (citations.py, eyecite), and a test checks that
it names exactly the cases the passage cites. The parts are training-only: no template or phrase of the held-out
style split (styles.py, ``"heldout"``) is used, so held-out scores still measure transfer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sft_recipes.tasks.court_opinions.citations import case_citations
from sft_recipes.tasks.court_opinions.prompts import LEGAL_SYSTEM_PROMPT, question
from sft_recipes.tasks.court_opinions.synthetic.courts import all_courts
from sft_recipes.tasks.court_opinions.synthetic.generator import ARGUMENTS, GENERIC
from sft_recipes.tasks.court_opinions.synthetic import styles as st
from sft_recipes.tasks.court_opinions.synthetic.names import SURNAMES, Authority, cited_authorities, statutes
from sft_recipes.tasks.court_opinions.synthetic.topics import TOPICS

PER_CONVERSATION = 4
CASES_PER_CONVERSATION = 11
CASES_PER_PASSAGE = (1, 2, 2, 3, 3, 4, 5)

LEADS = ("In", "Relying on", "Following", "Consistent with", "Applying", "Under the reasoning of", "As in",
         "Like the court in", "Unlike", "Since")
VERBS = ("held", "reasoned", "concluded", "recognized", "stated", "made clear", "found", "ruled", "emphasized",
         "acknowledged", "reiterated", "decided")
TRAILING = ("a point made in", "a rule applied in", "the view taken in", "as held in", "as stated in",
            "consistent with", "following", "relying on", "as recognized in", "a principle confirmed in",
            "as the {who} explained in", "which is the holding of", "as decided in")
WHO = ("court", "panel", "majority", "district court", "trial court", "supreme court")
SIGNALS = ("See", "See also", "See, e.g.,", "Cf.", "Accord", "E.g.,", "But see", "Contra", "But cf.", "")
STRING_JOINS = ("; see also", "; cf.", ";", "; see", "; but see", ", and", "; e.g.,", "; contra")
PARENTHETICALS = ("holding that", "noting that", "reasoning that", "stating that", "concluding that",
                  "recognizing that")
VERDICTS = ("controls", "is dispositive", "governs", "is not to the contrary", "does not help")


@dataclass(frozen=True)
class Passage:
    text: str
    cited: tuple[Authority, ...]  # in order of first full citation

    @property
    def truth(self) -> str:
        """The citations answer: every case cited in full, once, in order (what the builder must derive)."""
        return "\n".join(a.answer() for a in self.cited)


def citation_practice(n: int, seed: int, system_prompt: str | None = None) -> list[dict[str, Any]]:
    """``n`` passages as conversation records ("messages"): consecutive passages share a conversation while it holds
    fewer than ``PER_CONVERSATION`` of them and they cite at most ``CASES_PER_CONVERSATION`` cases."""
    groups: list[list[tuple[int, Passage]]] = []
    for index in range(n):
        passage = generate_passage(seed, index)
        last = groups[-1] if groups else []
        if not last or len(last) == PER_CONVERSATION or \
                sum(len(p.cited) for _, p in last) + len(passage.cited) > CASES_PER_CONVERSATION:
            groups.append(last := [])
        last.append((index, passage))
    records = []
    for group in groups:
        messages = [{"role": "system", "content": system_prompt or LEGAL_SYSTEM_PROMPT}]
        for index, passage in group:
            asked = question("citations", f"cite-practice-{seed}-{index}")
            messages += [{"role": "user", "content": f"{passage.text}\n\n{asked}"},
                         {"role": "assistant", "content": passage_answer(passage.text)}]
        records.append({"messages": messages, "id": f"cite-practice-{seed}-{group[0][0]:05d}"})
    return records


def passage_answer(text: str) -> str:
    """The citations answer as the task builder derives it from an opinion's text."""
    return "\n".join(c.render() for c in case_citations(text))


def generate_passage(seed: int, index: int) -> Passage:
    """Passage ``index`` of ``seed``: depends on nothing else, so a larger set starts with the smaller one."""
    rng = random.Random(f"sft-recipes-court-practice:{seed}:{index}")
    court = rng.choice([c for level in all_courts().values() for c in level])
    pending = cited_authorities(rng, court, rng.randint(1995, 2024), rng.choice(CASES_PER_PASSAGE))
    topic = rng.choice(TOPICS)
    principles = list(topic.principles) + rng.sample(GENERIC, len(GENERIC))
    sentences: list[str] = []
    cited: list[Authority] = []
    while pending:
        take = 2 if len(pending) >= 2 and rng.random() < 0.25 else 1
        group, pending = pending[:take], pending[take:]
        cited += group
        principle = principles.pop(0) if principles else rng.choice(GENERIC)
        sentences.append(_citing_sentence(rng, group, principle))
        roll = rng.random()
        if roll < 0.35:
            sentences.append(st.short_form(rng.choice(cited), rng, "train"))
        elif roll < 0.5:
            sentences.append(f"See {statutes(rng, court, 1)[0]}.")
        elif roll < 0.7:
            x, y = rng.sample(SURNAMES, 2)
            sentences.append(rng.choice(ARGUMENTS).format(X=x, Y=y, y=y, pro=topic.for_appellant,
                                                          con=topic.against_appellant,
                                                          lower=court.lower or "trial court"))
    paragraphs = [sentences]
    if len(sentences) > 2 and rng.random() < 0.4:
        cut = rng.randint(1, len(sentences) - 1)
        paragraphs = [sentences[:cut], sentences[cut:]]
    return Passage("\n\n".join(" ".join(p) for p in paragraphs), tuple(cited))


def _citing_sentence(rng: random.Random, group: list[Authority], p: str) -> str:
    """One sentence citing one or two cases, its shape drawn at random."""
    full = [st.authority_full(a, rng) for a in group]
    P = p[0].upper() + p[1:]

    def paren() -> str:
        return f" ({rng.choice(PARENTHETICALS)} {rng.choice(GENERIC)})" if rng.random() < 0.3 else ""

    if len(full) == 2:
        f1, f2 = full
        signal = rng.choice(SIGNALS)
        return rng.choice((
            lambda: f"{P}. {signal + ' ' if signal else ''}{f1}{paren()}{rng.choice(STRING_JOINS)} {f2}{paren()}.",
            lambda: f"Compare {f1}{paren()}, with {f2}{paren()}.",
            lambda: f"{P}, as both {f1}, and {f2}, {rng.choice(VERBS)}.",
            lambda: f"{rng.choice(LEADS)} {f1}, and again in {f2}, the court {rng.choice(VERBS)} that {p}.",
        ))()
    f1 = full[0]
    signal = rng.choice(SIGNALS)
    return rng.choice((
        lambda: f"{f1}{paren()}, {rng.choice(VERBS)} that {p}.",
        lambda: f"{P}. {signal + ' ' if signal else ''}{f1}{paren()}.",
        lambda: f"{P}, {rng.choice(TRAILING).format(who=rng.choice(WHO))} {f1}.",
        lambda: f"{rng.choice(LEADS)} {f1}, the court {rng.choice(VERBS)} that {p}.",
        lambda: f"{P} ({f1}).",
        lambda: f"The {rng.choice(WHO)} {rng.choice(VERBS)} in {f1}, that {p}.",
        lambda: f"{P}: {f1}{paren()}.",
        lambda: f"That is why {f1}, {rng.choice(VERDICTS)} here: {p}.",
    ))()

