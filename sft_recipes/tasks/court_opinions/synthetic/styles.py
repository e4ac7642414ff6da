"""Writing styles: how an opinion lays out its caption, opens, states the question and cites (dispositions:
dispositions.py).

Each choice has a pool for training and a disjoint pool for the held-out style split, so a model evaluated on the
held-out split meets captions, openings, question phrasings and citation sentences that it never saw in training.
The pools differ in templates, not in legal forms: signals ("See", "Cf."), short forms ("Id.", supra) and the kinds
of caption layout (a name line with its docket number, a court line with its date) occur in training too, written
differently. Every style is one that the task builder reads exactly (a test checks that for every style).
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


def caption_docket_line(rng: random.Random, c: Case) -> Caption:
    text = f"{c.case_name}, No. {c.docket}\n{c.court.name}\nDecided {spell(c.decided)}"
    return Caption(text, c.case_name, c.court.name, (c.case_name, c.court.name))


def caption_court_docket(rng: random.Random, c: Case) -> Caption:
    name = c.caption_name if rng.random() < 0.5 else c.case_name
    text = f"{name}\n{c.court.name}, No. {c.docket}\n{spell(c.decided)}"
    return Caption(text, name, c.court.name, (name, c.court.name))


def caption_upper(rng: random.Random, c: Case) -> Caption:
    text = f"{c.court.name.upper()}\n\n{c.caption_name}\n\nNo. {c.docket}\n\nDecided: {spell(c.decided)}"
    shown = c.caption_name.lower() == c.case_name.lower()
    return Caption(text, c.case_name, c.court.name, (c.caption_name, c.court.name.upper()) if shown else None)


def caption_court_first(rng: random.Random, c: Case) -> Caption:
    """The court's name above the case name, as slip opinions and many reporters print it: with name-first layouts
    as common, the line a case name is on is never a shortcut for finding it."""
    upper = rng.random() < 0.5
    name = c.caption_name if upper else c.case_name
    court = c.court.name.upper() if upper and rng.random() < 0.5 else c.court.name
    banner = rng.choice(("", "PUBLISHED", "OPINION", "UNPUBLISHED OPINION", "FOR PUBLICATION"))
    docket = rng.choice((f"No. {c.docket}", f"Docket No. {c.docket}", f"Case No. {c.docket}"))
    when = rng.choice((f"Decided {spell(c.decided)}", f"Filed {spell(c.decided)}", f"Decided: {spell(c.decided)}"))
    sep = rng.choice(("\n", "\n\n"))
    parts = [banner, court, name, docket, when] if rng.random() < 0.5 else [banner, court, docket, name, when]
    return Caption(sep.join(p for p in parts if p), name, c.court.name, (name, court))


def caption_composed(rng: random.Random, c: Case) -> Caption:
    """A caption put together from its usual parts in a random order and spelling: teaches where a case name and a
    court are, whatever the layout (none of the held-out layouts' own parts are used)."""
    upper = rng.random() < 0.4
    name = c.caption_name if upper else c.case_name
    court = c.court.name.upper() if upper and rng.random() < 0.5 else c.court.name
    name_line = rng.choice((name, f"{name}, No. {c.docket}", f"{name};", name))
    court_line = rng.choice((court, f"{court}, No. {c.docket}", court))
    extras = [rng.choice((f"No. {c.docket}", f"Docket No. {c.docket}", f"Case No. {c.docket}", "")),
              rng.choice((f"Decided {spell(c.decided)}", f"Filed {spell(c.decided)}", f"Decided: {spell(c.decided)}",
                          f"Argued {spell(c.argued)}; decided {spell(c.decided)}", "")),
              rng.choice(("FOR PUBLICATION", "OPINION", "PUBLISHED OPINION", "", "")),
              rng.choice((f"Before {', '.join(c.panel)}.", f"Appeal from the {c.court.lower or 'agency'}.", "", ""))]
    parts = [name_line, court_line] + [e for e in extras if e]
    rng.shuffle(parts)
    text = rng.choice(("\n", "\n\n")).join(parts)
    name_value = name if rng.random() < 0.7 else (c.case_name if upper else c.caption_name)
    shown = name_value.lower() == name.lower()
    return Caption(text, name_value, c.court.name, (name, court) if shown else None)


CAPTIONS = {
    "train": (caption_none, caption_none, caption_none, caption_plain, caption_reports, caption_slip,
              caption_docket_first, caption_head_matter, caption_docket_line, caption_court_docket, caption_upper,
              caption_court_first, caption_court_first, caption_court_first, caption_court_first,
              caption_composed, caption_composed, caption_composed, caption_composed, caption_composed),
    "heldout": (caption_westlaw, caption_state_header, caption_name_line, caption_memo),
}

# --- openings, headings, questions ---------------------------------------------------------------------------------

OPENERS = {
    "train": ("{JUDGE}, J., delivered the opinion of the court.", "JUSTICE {JUDGE} delivered the opinion of the Court.",
              "PER CURIAM.", "{JUDGE}, Circuit Judge:", "OPINION\n\n{Judge}, Justice.", "",
              "{JUDGE}, Judge.", "Opinion of the Court by Justice {Judge}.", "MEMORANDUM OPINION"),
    "heldout": ("Opinion by Judge {Judge}.", "{JUDGE}, C.J.", "MEMORANDUM OPINION AND ORDER",
                "Chief Judge {Judge} wrote for the court."),
}
HEADINGS = {
    "train": (("", "", ""), ("I.", "II.", "III."), ("BACKGROUND", "DISCUSSION", "CONCLUSION"), ("", "ANALYSIS", ""),
              ("Facts", "Discussion", "Conclusion")),
    "heldout": (("I. FACTS AND PROCEDURAL HISTORY", "II. ANALYSIS", "III. CONCLUSION"), ("A.", "B.", "C.")),
}
QUESTIONS = {
    "train": ("The question presented is whether {q}.", "We must decide whether {q}.",
              "This appeal requires us to decide whether {q}.", "The issue before us is whether {q}.",
              "We granted review to decide whether {q}.", "The sole question on appeal is whether {q}.",
              "This case presents the question whether {q}."),
    "heldout": ("At issue is whether {q}.", "This case asks whether {q}.", "We are asked to decide whether {q}.",
                "The dispositive question is whether {q}."),
}
TRIAL_QUESTIONS = {
    "train": ("The question before the Court is whether {q}.", "The motion presents the question whether {q}.",
              "The Court must decide whether {q}."),
    "heldout": ("At issue is whether {q}.", "The motion asks whether {q}."),
}
HOLDINGS = {
    "train": ("Applying these principles to the record before us, we hold that {h}.", "We conclude that {h}.",
              "We therefore hold that {h}.", "For these reasons, we hold that {h}."),
    "heldout": ("In light of these authorities, we hold that {h}.", "Having considered the record, we conclude that "
                "{h}."),
}

# --- citation sentences: (template, authorities used); {f1} {f2} full citations, {p1} {p2} principles ---------------

CITATION_SENTENCES = {
    "train": (("In {f1}, the court explained that {p1}.", 1), ("See {f1} (holding that {p1}).", 1),
              ("{P1}. {f1}.", 1), ("As we said in {f1}, {p1}.", 1), ("{P1}. See {f1}; see also {f2}.", 2),
              ("{P1}. See, e.g., {f1}.", 1), ("Cf. {f1} (noting that {p1}).", 1), ("Under {f1}, {p1}.", 1),
              ("{P1}. Accord {f1}.", 1), ("But see {f1} (suggesting that {p1}).", 1),
              ("{P1}. Compare {f1}, with {f2}.", 2), ("The {lower} relied on {f1}, which held that {p1}.", 1),
              # where real opinions also put citations: as the subject, mid-sentence, strings without a second signal
              ("{f1}, is instructive. There, the court held that {p1}.", 1), ("{P1}. See {f1}; {f2}.", 2),
              ("We agree with the reasoning of {f1}: {p1}.", 1),
              ("Both parties rely on {f1}, which holds that {p1}.", 1),
              ("It is settled that {p1}. E.g., {f1}.", 1), ("As the court noted in {f1}, {p1}. Accord {f2}.", 2),
              ("{P1}; see also {f1}.", 1), ("The rule announced in {f1}, applies: {p1}.", 1),
              ("{P1}. {f1}; see also {f2} (same).", 2), ("Nothing in {f1}, suggests otherwise, for {p1}.", 1)),
    "heldout": (("{f1}, teaches that {p1}.", 1), ("Cf. {f1} (explaining that {p1}).", 1),
                ("We have long recognized that {p1}. See {f1}.", 1), ("{P1}, as the court observed in {f1}.", 1),
                ("The rule is well settled: {p1}. {f1}.", 1), ("{P1}. See generally {f1}; accord {f2}.", 2)),
}
SHORT_FORMS = {
    "train": ("{short}.", "Id. at {pin}.", "Id.", "{supra}.", "Ibid.", "See {short}.", "See id.", "Accord {short}.",
              "{short} (citation omitted).",
              # a short form with a parenthetical is still a short form, not a new case to list
              "{supra} (emphasis added).", "Id. at {pin} (internal quotation marks omitted).",
              "{short} (collecting cases).", "{supra} (alteration in original)."),
    "heldout": ("See id. at {pin}.", "{supra} (same).", "Cf. {short}."),
}
STATUTE_SENTENCES = ("Under {s}, {p}.", "The parties agree that {s} governs this dispute.", "See {s}.")


def authority_full(a: Authority, rng: random.Random) -> str:
    return a.full(rng.randint(1, 30) if rng.random() < 0.5 else None)


def short_form(a: Authority, rng: random.Random, styles: str) -> str:
    """A short-form sentence for a case already cited in full ("Id. at 463.", "Smith, supra, at 463 (same)."): not a
    citation to list."""
    pin = a.page + rng.randint(1, 30)
    return rng.choice(SHORT_FORMS[styles]).format(short=a.short_form(pin - a.page), pin=pin,
                                                  supra=f"{a.short}, supra, at {pin}")


CLOSINGS = {"train": ("It is so ordered.", "SO ORDERED.", "", "All concur."), "heldout": ("IT IS SO ORDERED.", "")}
