"""How the made-up opinions state their disposition: every tense and form, single and multi-part.

A plan is the canonical answer as steps, ("AFFIRMED IN PART", "REVERSED IN PART", "REMANDED"); a template writes it
in one phrasing. Placeholders:

    {CHAIN} {chain} {Chain}   the steps as participles: capitals / capitals or lowercase (per opinion) / "Affirmed ..."
    {base} {third}            the steps as "we" verbs ("affirm in part, reverse in part, and remand") / as "the Court"
                              verbs ("grants in part and denies in part")
    {head} {last} {head_base} {last_base}   for plans that end with REMANDED: the steps before it, and it
    {S} {s}                   the subject: "The judgment of the District Court" / "the judgment of ..."
    {Subject} {party}         "Judgment" (the subject noun alone) / the moving party

Families (present passive, "we" present, "the Court" present, future and modal passive, orders, lines of disposition
words) occur in both pools; the templates of the held-out pool are phrasings that training never uses.
"""

from __future__ import annotations

import random

PLANS = {
    "appellate": (("AFFIRMED",), ("REVERSED",), ("REVERSED", "REMANDED"), ("VACATED", "REMANDED"),
                  ("AFFIRMED IN PART", "REVERSED IN PART"), ("AFFIRMED IN PART", "REVERSED IN PART", "REMANDED"),
                  ("AFFIRMED IN PART", "VACATED IN PART", "REMANDED"), ("DISMISSED",), ("VACATED",),
                  ("AFFIRMED AS MODIFIED",), ("AFFIRMED",), ("REVERSED", "REMANDED")),
    "petition": (("DENIED",), ("GRANTED",), ("AFFIRMED",), ("REVERSED", "REMANDED"), ("VACATED", "REMANDED")),
    "trial": (("GRANTED",), ("DENIED",), ("GRANTED IN PART", "DENIED IN PART")),
}
# (template, when): "any", "split" (plan ends with REMANDED after other steps), "single" (one step)
APPELLATE = {
    "train": (("{CHAIN}.", "any"), ("{Chain}.", "any"), ("{S} is {chain}.", "any"),
              ("{S} is {head}, and the case is {last} for further proceedings consistent with this opinion.", "split"),
              ("We {base}.", "any"), ("For the foregoing reasons, we {base} {s}.", "single"),
              ("We therefore {head_base} {s} and {last_base} for further proceedings.", "split"),
              ("{S} will be {chain}.", "any"), ("IT IS ORDERED that {s} be {CHAIN}.", "any"),
              ("{Subject} {chain}.", "any"), ("Accordingly, we {base}.", "any"),
              ("{CHAIN} FOR FURTHER PROCEEDINGS.", "any"), ("{Chain} for further proceedings consistent with this "
                                                             "opinion.", "any"), ("{CHAIN} WITH DIRECTIONS.", "any"),
              ("{Chain} for a new trial.", "any"), ("{CHAIN}, AND COSTS ARE AWARDED.", "any"),
              ("We {head_base} {s}, and we {last_base} for further proceedings.", "split")),
    "heldout": (("{Chain}, with costs.", "any"), ("Accordingly, {s} is hereby {chain}.", "any"),
                ("{S} is {head}; the case is {last} to the {lower}.", "split"), ("We {base} {s}.", "single"),
                ("We {head_base} {s}, and we {last_base} the case to the {lower}.", "split"),
                ("{S} must be {chain}.", "any"), ("IT IS HEREBY ORDERED that {s} is {CHAIN}.", "any"),
                ("{CHAIN} WITH INSTRUCTIONS.", "any")),
}
TRIAL = {
    "train": (("For these reasons, the Court {third} the motion.", "any"), ("{S} is {chain}.", "any"),
              ("{CHAIN}.", "any"), ("IT IS ORDERED that {s} be {CHAIN}.", "any")),
    "heldout": (("The Court therefore {third} {party}'s motion.", "any"), ("{Party}'s motion is {chain}.", "any"),
                ("{S} is hereby {chain}.", "any")),
}
BASE = {"AFFIRMED": "affirm", "REVERSED": "reverse", "REMANDED": "remand", "VACATED": "vacate",
        "DISMISSED": "dismiss", "GRANTED": "grant", "DENIED": "deny", "MODIFIED": "modify"}
THIRD = {"affirm": "affirms", "reverse": "reverses", "remand": "remands", "vacate": "vacates",
         "dismiss": "dismisses", "grant": "grants", "deny": "denies", "modify": "modifies"}


def disposition_text(plan: tuple[str, ...], styles: str, trial: bool, rng: random.Random, subject: str,
                     lower: str, party: str) -> str:
    """The disposition paragraph of ``plan`` in a phrasing of the ``styles`` pool."""
    split = len(plan) > 1 and plan[-1] == "REMANDED"
    pool = [t for t, when in (TRIAL if trial else APPELLATE)[styles]
            if when == "any" or (when == "split" and split) or (when == "single" and len(plan) == 1)]
    if subject.startswith("petition"):  # "we deny" needs its object: "we deny the petition for review"
        pool = [t for t in pool if "{base}." not in t]
    caps = rng.random() < 0.6
    whose = f"the {subject} of the {lower}" if lower else f"the {subject}"
    values = {
        "CHAIN": _series(_forms(plan, True, "participle"), upper=True),
        "chain": _series(_forms(plan, caps, "participle"), upper=caps),
        "base": _series(_forms(plan, caps, "base"), upper=caps),
        "third": _series(_forms(plan, caps, "third"), upper=caps),
        "S": whose[0].upper() + whose[1:], "s": whose, "Subject": subject.split()[0].capitalize(),
        "lower": lower or "trial court", "party": party, "Party": party[0].upper() + party[1:],
    }
    values["Chain"] = _series(_forms(plan, False, "participle"))
    values["Chain"] = values["Chain"][0].upper() + values["Chain"][1:]
    if split:
        values.update(head=_series(_forms(plan[:-1], caps, "participle"), upper=caps),
                      last=_forms(plan[-1:], caps, "participle")[0],
                      head_base=_series(_forms(plan[:-1], caps, "base"), upper=caps),
                      last_base=_forms(plan[-1:], caps, "base")[0])
    return rng.choice(pool).format(**values)


def _forms(plan: tuple[str, ...], caps: bool, form: str) -> list[str]:
    """Each step as a verb form: "AFFIRMED IN PART" -> "affirm in part" / "AFFIRMED IN PART" / "affirms in part"."""
    out = []
    for step in plan:
        word, _, qualifier = step.partition(" ")
        verb = {"participle": word.lower(), "base": BASE[word], "third": THIRD[BASE[word]]}[form]
        text = f"{verb} {qualifier.lower()}".strip()
        out.append(text.upper() if caps else text)
    return out


def _series(items: list[str], upper: bool = False) -> str:
    joined = " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + ", and " + items[-1]
    return joined.replace(" and ", " AND ") if upper else joined
