"""A seeded synthetic corpus of court opinions that teaches the tasks, not a layout.

Every opinion is made up (parties, decisions, citations) but shaped like a real one, and varied where real ones vary:
courts at every level (courts-db), captions in many styles or none, openings, headings, the question in several
phrasings, citations in full (pin cites, parallel citations, string cites, explanatory parentheticals) and short
forms ("Id. at 5", "Smith, 123 F.3d at 460", supra), statutes, dispositions in every tense and multi-part form,
history in the past tense before them, sometimes a dissent after them, and lengths from ~150 words to ~2,400.

``styles="heldout"`` draws every style choice from pools disjoint from training's (styles.py): a held-out *style*
split that measures transfer to writing never seen in training. Training opinions also cite a wider spread of cases
(a short one one to five, a held-out one two or three): with lists of one length common, a model learns to stop a
list from habit rather than from the text. ``SyntheticOpinion.truth`` holds the answers the
task builder must derive (a test checks it does, for both splits). Opinion ``i`` of seed ``s`` depends only on
(styles, s, i, max_words), so a seed gives the same corpus everywhere and a larger corpus starts with the smaller one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sft_recipes.tasks.court_opinions.synthetic import styles as st
from sft_recipes.tasks.court_opinions.synthetic.dispositions import PLANS, disposition_text
from sft_recipes.tasks.court_opinions.synthetic.courts import Court, all_courts
from sft_recipes.tasks.court_opinions.synthetic.names import (
    SURNAMES, Authority, Party, agency, cited_authorities, company, government, person, statutes)
from sft_recipes.tasks.court_opinions.synthetic.topics import CITIES, GOODS, TOPICS, Topic

LEVEL_WEIGHTS = {"supreme": 0.08, "federal_appellate": 0.24, "federal_trial": 0.1, "bankruptcy": 0.05,
                 "state_supreme": 0.22, "state_appellate": 0.23, "state_trial": 0.08}
LENGTHS = ((0.55, 150, 420), (0.30, 420, 900), (0.15, 900, 2400))  # (share, min words, max words)
GENERIC = (
    "a party who fails to raise an argument below ordinarily forfeits it",
    "courts give the words of a statute their ordinary meaning",
    "a reviewing court may affirm on any ground the record supports",
    "the burden of proof rests on the party seeking relief",
    "courts avoid reading a statute in a way that renders part of it superfluous",
    "findings of fact are reviewed for clear error",
    "questions of law are reviewed de novo",
    "an error is harmless when it did not affect the outcome",
    "a court must view the evidence in the light most favorable to the nonmoving party",
    "legislative history cannot override the plain text of a statute",
    "the same words in one statute are presumed to carry the same meaning",
    "a claim is moot when the court can no longer grant effective relief",
)
ARGUMENTS = (  # {x} the appellant (or movant), {y} the other party; {pro} / {con} the holding for / against {x}
    "{X} argues that {pro}.", "{Y} responds that {con}.", "{X} contends that the {lower} erred.",
    "We are not persuaded by {y}'s reading of the record.", "{Y} does not dispute the underlying facts.",
    "The {lower} reasoned that {con}.", "That argument has some force, but it proves too much.",
    "Nothing in the text of the governing provision suggests a different result.",
    "The structure of the statute as a whole points the same way.", "Other courts have reached the same result.",
    "The record does not support a different conclusion.", "We decline to read an additional requirement into "
    "the law.", "{X} also raises several arguments that we need not reach.",
    "Both parties rely on the same line of authority, but they draw opposite conclusions from it.",
)
REVIEW = ("The question is one of law, which we review de novo.", "We review the ruling for an abuse of discretion.",
          "Our review is de novo.", "The parties agree that our review is plenary.")


@dataclass(frozen=True)
class SyntheticOpinion:
    """One generated opinion and the answers the task builder must derive from it."""

    record: dict[str, Any]  # id, case_name, court, date_filed, text
    truth: dict[str, str] = field(default_factory=dict)  # case_name, court, holding, issue, citations
    styles: str = "train"
    caption_shown: bool = False  # the text's own caption shows the record's case name and court


def generate_opinions(n: int, seed: int, styles: str = "train", max_words: int | None = None) -> list[SyntheticOpinion]:
    return [generate_opinion(seed, i, styles, max_words) for i in range(n)]


def generate_opinion(seed: int, index: int, styles: str = "train", max_words: int | None = None) -> SyntheticOpinion:
    if styles not in st.SPLITS:
        raise ValueError(f"styles must be one of {st.SPLITS}, got {styles!r}")
    rng = random.Random(f"sft-recipes-court:{styles}:{seed}:{index}:{max_words}")
    level = rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]
    court = rng.choice(all_courts()[level])
    topic = rng.choice(TOPICS)
    case = _case(rng, court, topic)
    caption = rng.choice(st.CAPTIONS[styles])(rng, case)
    writer = _Writer(rng, styles, case, topic, _target_words(rng, max_words))
    body, truth = writer.write()
    text = f"{caption.text}\n\n{body}" if caption.text else body
    record = {"id": f"syn-{'h' if styles == 'heldout' else ''}{seed}-{index:05d}", "case_name": caption.case_name,
              "court": caption.court, "date_filed": case.decided.isoformat(), "text": text}
    truth.update(zip(("case_name", "court"), caption.answers))
    return SyntheticOpinion(record, truth, styles, caption.shown is not None)


def _target_words(rng: random.Random, max_words: int | None) -> int:
    share = rng.random()
    for weight, low, high in LENGTHS:
        share -= weight
        if share <= 0:
            break
    target = rng.randint(low, high)
    return min(target, max_words) if max_words else target


def _case(rng: random.Random, court: Court, topic: Topic) -> st.Case:
    a, b = (_party(rng, kind, court) for kind in topic.kinds)
    if a.short == b.short:
        b = Party("HALVORSEN", "Halvorsen", "Halvorsen")
    year = rng.randint(1995, 2024)
    decided = date(year, rng.randint(1, 12), rng.randint(1, 28))
    if court.level in ("federal_trial", "bankruptcy", "state_trial"):
        roles = ("Plaintiff", "Defendant")
    elif court.level == "supreme":
        roles = ("Petitioner", "Respondent")
    else:
        roles = ("Plaintiff-Appellant", "Defendant-Appellee") if topic.appellant == "a" else \
            ("Plaintiff-Appellee", "Defendant-Appellant")
    docket = (f"{rng.randint(1, 4)}:{year % 100:02d}-cv-{rng.randint(100, 9999):05d}" if not court.appellate
              else f"{year % 100:02d}-{rng.randint(100, 9999)}")
    panel = tuple(rng.sample(SURNAMES, 3))
    report = f"{rng.randint(1, 999)} {court.reporter(year)} {rng.randint(1, 1499)}"
    return st.Case(court, a, b, roles, docket, decided, decided - timedelta(days=rng.randint(40, 200)),
                   rng.choice(SURNAMES), panel, report)


def _party(rng: random.Random, kind: str, court: Court) -> Party:
    if kind == "x":
        kind = "c" if rng.random() < 0.4 else "p"
    return {"s": lambda: government(rng, court), "c": lambda: company(rng), "g": lambda: agency(rng)}.get(
        kind, lambda: person(rng))()


class _Writer:
    """Writes one opinion's body, keeping the answers its text supports."""

    def __init__(self, rng: random.Random, styles: str, case: st.Case, topic: Topic, target: int) -> None:
        self.rng, self.styles, self.case, self.topic, self.target = rng, styles, case, topic, target
        self.court = case.court
        self.cited: list[Authority] = []  # in order of first full citation

    def write(self) -> tuple[str, dict[str, str]]:
        rng, styles = self.rng, self.styles
        plan, subject, lower = self._plan()
        favours_appellant = any(w.split()[0] in ("REVERSED", "VACATED", "GRANTED") for w in plan)
        question = rng.choice((st.TRIAL_QUESTIONS if not self.court.appellate else st.QUESTIONS)[styles])
        issue = question.format(q=self.topic.question)
        headings = rng.choice(st.HEADINGS[styles])
        paras = [p for p in [self._opener(), headings[0], self._facts(), f"{issue} {rng.choice(REVIEW)}"] if p]
        authorities = cited_authorities(rng, self.court, self.case.decided.year, self._authority_count())
        laws = statutes(rng, self.court, rng.choice((0, 0, 1, 2)))
        paras.append(headings[1])
        paras += self._analysis(authorities, laws)
        holding = self.topic.for_appellant if favours_appellant else self.topic.against_appellant
        paras.append(rng.choice(st.HOLDINGS[styles]).format(h=holding))
        paras.append(headings[2])
        paras.append(disposition_text(plan, styles, not self.court.appellate, rng, subject, lower,
                                      rng.choice(("defendant", "plaintiff"))))
        paras.append(rng.choice(st.CLOSINGS[styles]))
        if self.court.appellate and rng.random() < 0.12:
            paras += self._dissent(plan)
        truth = {"holding": " AND ".join(plan), "issue": issue,
                 "citations": "\n".join(a.answer() for a in self.cited)}
        return "\n\n".join(p for p in paras if p), truth

    def _plan(self) -> tuple[tuple[str, ...], str, str]:
        rng = self.rng
        if not self.court.appellate:
            return rng.choice(PLANS["trial"]), rng.choice(("motion to dismiss", "motion for summary judgment",
                                                            "motion")), ""
        if self.court.level in ("supreme", "state_supreme") and rng.random() < 0.25:
            plan = rng.choice(PLANS["petition"])
            if plan[0] in ("DENIED", "GRANTED"):
                return plan, "petition for review", ""
            return plan, "judgment", self.court.lower
        return rng.choice(PLANS["appellate"]), rng.choice(("judgment", "judgment", "order", "decision")), \
            self.court.lower

    def _opener(self) -> str:
        template = self.rng.choice(st.OPENERS[self.styles])
        return template.format(JUDGE=self.case.judge.upper(), Judge=self.case.judge)

    def _facts(self) -> str:
        rng, case = self.rng, self.case
        slots = {"a": case.first.short, "b": case.second.short, "city": rng.choice(CITIES),
                 "amount": f"{rng.randint(12, 950) * 1000:,}", "goods": rng.choice(GOODS),
                 "lower": self.court.lower or ("hearing officer" if self.court.state else "magistrate judge"),
                 "year": case.decided.year - rng.randint(2, 6)}
        facts = self.topic.facts.format(**slots)
        facts = facts[0].upper() + facts[1:]
        if not self.court.appellate:
            return f"{facts} The matter is before the Court on a motion."
        appellant = slots[self.topic.appellant]
        return f"{facts} {appellant[0].upper() + appellant[1:]} {rng.choice(('appealed', 'timely appealed'))}."

    def _authority_count(self) -> int:
        if self.styles == "train":  # a wide spread, so that how many a list holds is never a guess from habit
            return max(1, min(12, self.target // 140 + self.rng.randint(0, 4)))
        return max(2, min(12, self.target // 140 + self.rng.randint(0, 2)))

    def _analysis(self, authorities: list[Authority], laws: list[str]) -> list[str]:
        rng = self.rng
        principles = list(self.topic.principles) + rng.sample(GENERIC, len(GENERIC))
        pending, paras, words = list(authorities), [], 0
        while pending or words < self.target - 120:
            sentences = [self._cite(pending, principles) for _ in range(rng.randint(1, 3)) if pending]
            if laws and rng.random() < 0.5:
                sentences.append(rng.choice(st.STATUTE_SENTENCES).format(s=laws.pop(), p=self._principle(principles)))
            if self.cited and rng.random() < 0.7:
                sentences.append(st.short_form(rng.choice(self.cited), rng, self.styles))
            short = words + sum(len(x.split()) for x in sentences) >= self.target - 120
            if not short or rng.random() < 0.5:
                sentences.append(f"{self._cap(self._principle(principles))}.")
            sentences += self._arguments(0 if short else rng.randint(0 if pending else 2, 3))
            paras.append(" ".join(sentences))
            words += len(paras[-1].split())
            if not pending and len(paras) > 40:
                break
        for law in laws:
            paras[-1] += " " + st.STATUTE_SENTENCES[2].format(s=law)
        return paras

    def _cite(self, pending: list[Authority], principles: list[str]) -> str:
        template, uses = self.rng.choice(st.CITATION_SENTENCES[self.styles])
        if uses > len(pending):
            template, uses = "{P1}. See {f1}.", 1
        values: dict[str, str] = {}
        for k in range(1, uses + 1):
            a = pending.pop(0)
            self.cited.append(a)
            values[f"f{k}"] = st.authority_full(a, self.rng)
            p = self._principle(principles)
            values[f"p{k}"], values[f"P{k}"] = p, self._cap(p)
        return template.format(lower=self.court.lower or "magistrate judge", **values)

    def _arguments(self, k: int) -> list[str]:
        case, topic = self.case, self.topic
        x, y = (case.first, case.second) if topic.appellant == "a" else (case.second, case.first)
        return [template.format(X=self._cap(x.short), Y=self._cap(y.short), y=y.short, pro=topic.for_appellant,
                                con=topic.against_appellant, lower=self.court.lower or "magistrate judge")
                for template in self.rng.sample(ARGUMENTS, k)]

    def _principle(self, principles: list[str]) -> str:
        return principles.pop(0) if principles else self.rng.choice(GENERIC)

    def _dissent(self, plan: tuple[str, ...]) -> list[str]:
        """A dissent after the court's opinion: its citations and what it "would" do are not the court's."""
        judge = self.rng.choice([s for s in SURNAMES if s != self.case.judge])
        opposite = "reverse" if plan[0].startswith("AFFIRMED") else "affirm"
        extra = cited_authorities(self.rng, self.court, self.case.decided.year, 1)[0]
        return [f"{judge.upper()}, J., dissenting.",
                f"I respectfully dissent. In my view the majority misreads the record. See {extra.full()}. I would "
                f"{opposite} the judgment of the {self.court.lower}."]

    @staticmethod
    def _cap(text: str) -> str:
        return text[0].upper() + text[1:]
