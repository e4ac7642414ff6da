"""Writing styles: how an opinion lays out its caption, opens, states the question, cites, and disposes.

Each choice has a pool for training and a disjoint pool for the held-out style split, so a model evaluated on the
held-out split meets captions, openings, question phrasings, citation sentences and disposition phrasings that it
never saw in training. Every style is one that the task builder reads exactly (a test checks that for every style).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from sft_recipes.tasks.court_opinions.caption import MONTHS
from sft_recipes.tasks.court_opinions.synthetic.courts import Court
from sft_recipes.tasks.court_opinions.synthetic.names import Authority, Party

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class Case:
    court: Court
    first: Party  # first in the caption
    second: Party
    roles: tuple[str, str]  # "Plaintiff-Appellant", "Defendant-Appellee"
    docket: str
    decided: date
    argued: date
    judge: str  # surname
    panel: tuple[str, str, str]
    report: str  # the case's own citation, "512 P.3d 88"

    @property
    def case_name(self) -> str:
        return f"{self.first.name} v. {self.second.name}"

    @property
    def caption_name(self) -> str:
        return f"{self.first.caption} v. {self.second.caption}"


@dataclass(frozen=True)
class Caption:
    text: str  # "" for none
    case_name: str  # what the record's ``case_name`` holds
    court: str  # what the record's ``court`` holds
    shown: tuple[str, str] | None = None  # how the text's caption spells both record values, when it shows both

    @property
    def answers(self) -> tuple[str, str]:
        """The case name and court a question is answered with: the text's spelling when its caption shows both
        values, else the record's (its caption is then put on top of the prompt)."""
        return self.shown or (self.case_name, self.court)


def spell(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


# --- captions ------------------------------------------------------------------------------------------------------

def caption_none(rng: random.Random, c: Case) -> Caption:
    return Caption("", c.case_name, c.court.name)


def caption_plain(rng: random.Random, c: Case) -> Caption:
    return Caption(f"{c.case_name}\n{c.court.name}\nNo. {c.docket}. Decided {spell(c.decided)}.", c.case_name,
                   c.court.name, (c.case_name, c.court.name))


def caption_reports(rng: random.Random, c: Case) -> Caption:
    et_al = " ET AL." if rng.random() < 0.4 else ""
    text = (f"{c.report} ({c.decided.year})\n{c.first.caption}{et_al}\nv.\n{c.second.caption}\nNo. {c.docket}.\n"
            f"{c.court.name}.\nArgued {spell(c.argued)}.\nDecided {spell(c.decided)}.")
    shown = not et_al and c.caption_name.lower() == c.case_name.lower()
    return Caption(text, c.case_name, c.court.name, (c.caption_name, c.court.name) if shown else None)


def caption_slip(rng: random.Random, c: Case) -> Caption:
    words = c.court.name.upper().split(" FOR ", 1)
    court = "\n".join([words[0], f"FOR {words[1]}"] if len(words) == 2 else words)
    text = (f"{rng.choice(('FOR PUBLICATION', 'PUBLISHED', 'NOT FOR PUBLICATION'))}\n\nIN THE {court}\n\n"
            f"{c.first.caption},\n{c.roles[0]},\n\nv.\n\n{c.second.caption},\n{c.roles[1]}.\n\nNo. {c.docket}\n\n"
            f"OPINION\n\nArgued and Submitted {spell(c.argued)}\nFiled {spell(c.decided)}\n\n"
            f"Before: {', '.join(c.panel[:2])}, and {c.panel[2]}, Judges.")
    return Caption(text, c.case_name, c.court.name)


def caption_docket_first(rng: random.Random, c: Case) -> Caption:
    name = c.caption_name if rng.random() < 0.5 else c.case_name
    return Caption(f"No. {c.docket}\n{c.court.name}\n{name}\n{spell(c.decided)}", name, c.court.name,
                   (name, c.court.name))


def caption_head_matter(rng: random.Random, c: Case) -> Caption:
    text = (f"{c.first.name}, {c.roles[0]}, v. {c.second.name}, {c.roles[1]}.\n[No. {c.docket}.]\n"
            f"{c.court.name}.\nOpinion filed {spell(c.decided)}.")
    return Caption(text, c.case_name, c.court.name)


def caption_westlaw(rng: random.Random, c: Case) -> Caption:
    return Caption(f"{c.case_name}\n{c.court.name}\n{spell(c.decided)}\n{c.report}", c.case_name, c.court.name,
                   (c.case_name, c.court.name))


def caption_state_header(rng: random.Random, c: Case) -> Caption:
    text = (f"IN THE {c.court.name.upper()}\n\n{c.caption_name}\n\n({c.docket})\n\nOn review from the {c.court.lower}."
            f"\n\nArgued and submitted {spell(c.argued)}.")
    return Caption(text, c.caption_name, c.court.name)


def caption_name_line(rng: random.Random, c: Case) -> Caption:
    text = f"{c.case_name}, No. {c.docket}\n{c.court.name}, {spell(c.decided)}"
    return Caption(text, c.case_name, c.court.name, (c.case_name, c.court.name))


def caption_memo(rng: random.Random, c: Case) -> Caption:
    text = (f"NOT FOR PUBLICATION\n\n{c.court.name}\n\n{c.caption_name}\n\nMEMORANDUM\n\nNo. {c.docket}\n\n"
            f"Submitted {spell(c.argued)}")
    return Caption(text, c.caption_name, c.court.name, (c.caption_name, c.court.name))


CAPTIONS = {
    "train": (caption_none, caption_none, caption_plain, caption_reports, caption_slip, caption_docket_first,
              caption_head_matter),
    "heldout": (caption_westlaw, caption_state_header, caption_name_line, caption_memo),
}

# --- openings, headings, questions ---------------------------------------------------------------------------------

OPENERS = {
    "train": ("{JUDGE}, J., delivered the opinion of the court.", "JUSTICE {JUDGE} delivered the opinion of the Court.",
              "PER CURIAM.", "{JUDGE}, Circuit Judge:", "OPINION\n\n{Judge}, Justice.", ""),
    "heldout": ("Opinion by Judge {Judge}.", "{JUDGE}, C.J.", "MEMORANDUM OPINION AND ORDER",
                "Chief Judge {Judge} wrote for the court."),
}
HEADINGS = {
    "train": (("", "", ""), ("I.", "II.", "III."), ("BACKGROUND", "DISCUSSION", "CONCLUSION")),
    "heldout": (("I. FACTS AND PROCEDURAL HISTORY", "II. ANALYSIS", "III. CONCLUSION"), ("A.", "B.", "C.")),
}
QUESTIONS = {
    "train": ("The question presented is whether {q}.", "We must decide whether {q}.",
              "This appeal requires us to decide whether {q}.", "The issue before us is whether {q}.",
              "We granted review to decide whether {q}."),
    "heldout": ("At issue is whether {q}.", "The sole question on appeal is whether {q}.", "This case asks whether {q}.",
                "We are asked to decide whether {q}."),
}
TRIAL_QUESTIONS = {
    "train": ("The question before the Court is whether {q}.", "The motion presents the question whether {q}."),
    "heldout": ("At issue is whether {q}.",),
}
HOLDINGS = {
    "train": ("Applying these principles to the record before us, we hold that {h}.", "We conclude that {h}.",
              "We therefore hold that {h}."),
    "heldout": ("In light of these authorities, we hold that {h}.", "Having considered the record, we conclude that "
                "{h}."),
}

# --- citation sentences: (template, authorities used); {f1} {f2} full citations, {p1} {p2} principles ---------------

CITATION_SENTENCES = {
    "train": (("In {f1}, the court explained that {p1}.", 1), ("See {f1} (holding that {p1}).", 1),
              ("{P1}. {f1}.", 1), ("As we said in {f1}, {p1}.", 1), ("{P1}. See {f1}; see also {f2}.", 2),
              ("{P1}. See, e.g., {f1}.", 1)),
    "heldout": (("{f1}, teaches that {p1}.", 1), ("Cf. {f1} (explaining that {p1}).", 1), ("Under {f1}, {p1}.", 1),
                ("{P1}. Accord {f1}.", 1), ("The rule is well settled: {p1}. {f1}.", 1),
                ("{P1}. Compare {f1}, with {f2}.", 2)),
}
SHORT_FORMS = {
    "train": ("{short}.", "Id. at {pin}.", "Id."),
    "heldout": ("Ibid.", "{supra}.", "Id. at {pin}."),
}
STATUTE_SENTENCES = ("Under {s}, {p}.", "The parties agree that {s} governs this dispute.", "See {s}.")


def authority_full(a: Authority, rng: random.Random) -> str:
    return a.full(rng.randint(1, 30) if rng.random() < 0.5 else None)


# --- dispositions ----------------------------------------------------------------------------------------------------

PLANS = {
    "appellate": (("AFFIRMED",), ("REVERSED",), ("REVERSED", "REMANDED"), ("VACATED", "REMANDED"),
                  ("AFFIRMED IN PART", "REVERSED IN PART"), ("AFFIRMED IN PART", "REVERSED IN PART", "REMANDED"),
                  ("AFFIRMED IN PART", "VACATED IN PART", "REMANDED"), ("DISMISSED",), ("VACATED",),
                  ("AFFIRMED AS MODIFIED",), ("AFFIRMED",), ("REVERSED", "REMANDED")),
    "petition": (("DENIED",), ("GRANTED",), ("AFFIRMED",), ("REVERSED", "REMANDED"), ("VACATED", "REMANDED")),
    "trial": (("GRANTED",), ("DENIED",), ("GRANTED IN PART", "DENIED IN PART")),
}
BASE = {"AFFIRMED": "affirm", "REVERSED": "reverse", "REMANDED": "remand", "VACATED": "vacate",
        "DISMISSED": "dismiss", "GRANTED": "grant", "DENIED": "deny", "MODIFIED": "modify"}
THIRD = {"affirm": "affirms", "reverse": "reverses", "remand": "remands", "vacate": "vacates",
         "dismiss": "dismisses", "grant": "grants", "deny": "denies", "modify": "modifies"}


def _words(plan: tuple[str, ...], caps: bool, form: str) -> list[str]:
    """Each step of the plan as a verb form: "AFFIRMED IN PART" -> "affirm in part" / "AFFIRMED IN PART" ..."""
    out = []
    for step in plan:
        word, _, qualifier = step.partition(" ")
        verb = {"participle": word.lower(), "base": BASE[word], "third": THIRD[BASE[word]]}[form]
        text = f"{verb} {qualifier.lower()}".strip()
        out.append(text.upper() if caps else text)
    return out


def _series(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def disposition_text(plan: tuple[str, ...], style: str, rng: random.Random, subject: str, lower: str) -> str:
    """The disposition paragraph in one phrasing style."""
    caps = rng.random() < 0.6
    whose = f"the {subject} of the {lower}" if lower else f"the {subject}"
    the = whose[0].upper() + whose[1:]
    if style == "caps_line":
        return _series(_words(plan, True, "participle")).replace(" and ", " AND ").replace(", AND", ", AND") + "."
    if style == "title_line":
        line = _series(_words(plan, False, "participle"))
        return line[0].upper() + line[1:] + "."
    if style == "passive":
        parts = _words(plan, caps, "participle")
        if parts[-1].lower() == "remanded" and len(parts) > 1:
            return f"{the} is {_series(parts[:-1])}, and the case is {parts[-1]} for further proceedings."
        return f"{the} is {_series(parts)}."
    if style == "we":
        adverb = rng.choice(("", "therefore ", "accordingly "))
        parts = _words(plan, caps, "base")
        if len(plan) == 1:
            return f"For the foregoing reasons, we {adverb}{parts[0]} {whose}."
        return f"We {adverb}{_series(parts)}."
    if style == "court_acts":
        return f"For these reasons, the Court {_series(_words(plan, caps, 'third'))} the motion."
    if style == "future":
        parts = _words(plan, caps, "participle")
        return f"{the} will be {_series(parts)}."
    if style == "ordered":
        parts = _words(plan, caps, "participle")
        return f"IT IS ORDERED that {whose} be {_series(parts)}."
    if style == "short":
        parts = _words(plan, False, "participle")
        return f"{subject.capitalize()} {_series(parts)}."
    if style == "hereby":
        return f"{the} is hereby {_series(_words(plan, caps, 'participle'))}."
    raise ValueError(f"unknown disposition style {style!r}")


DISPOSITION_STYLES = {
    "train": ("caps_line", "passive", "we", "title_line", "passive", "we"),
    "heldout": ("future", "ordered", "short", "hereby"),
}
TRIAL_DISPOSITION_STYLES = {"train": ("court_acts", "passive", "caps_line"), "heldout": ("hereby", "ordered")}
CLOSINGS = {"train": ("It is so ordered.", "SO ORDERED.", ""), "heldout": ("IT IS SO ORDERED.", "")}
