"""A seeded synthetic corpus of short court opinions: the embedded data set.

Every opinion is made up (parties, courts' decisions, citations), but shaped like a real one: a caption with the case
name, the court and the decision date; a facts paragraph; "The question presented is whether ..."; an analysis citing
2-4 authorities in reporter format ("123 F.3d 456 (9th Cir. 1999)", "550 U.S. 544 (2007)"); a conclusion; the
disposition in capitals; "It is so ordered." Opinions run about 150-350 words so that training on a CPU is quick.

The text is written so that ``court_opinions.py`` derives all six answers exactly; ``SyntheticOpinion`` keeps the
ground truth to check that. Generation is deterministic: opinion ``i`` of seed ``s`` depends only on (s, i), so the
same seed gives byte-identical output and a larger corpus starts with the smaller one.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SURNAMES = (
    "Abbott", "Alvarez", "Baker", "Barnes", "Bennett", "Brooks", "Carter", "Castillo", "Chen", "Collins", "Cooper",
    "Delgado", "Dixon", "Ellis", "Fischer", "Fleming", "Foster", "Garcia", "Gibson", "Graham", "Hayes", "Hoffman",
    "Holloway", "Jensen", "Kaplan", "Keller", "Kowalski", "Lambert", "Lindqvist", "Marsh", "Mendoza", "Morrison",
    "Nakamura", "Novak", "Okafor", "Osborne", "Patel", "Pierce", "Quinn", "Ramirez", "Reyes", "Sandoval", "Schultz",
    "Serrano", "Sullivan", "Tanaka", "Thornton", "Vance", "Walsh", "Whitaker", "Yamamoto", "Zimmerman",
)
COMPANY_WORDS = (
    "Acme", "Bluewater", "Cedar", "Granite", "Harbor", "Ironwood", "Keystone", "Lakeshore", "Meridian", "Northgate",
    "Pinecrest", "Redstone", "Silverline", "Summit", "Westfield",
)
COMPANY_KINDS = ("Logistics", "Builders", "Insurance", "Foods", "Medical Group", "Properties", "Software", "Freight")
COMPANY_SUFFIXES = ("Inc.", "LLC", "Corp.")
CITIES = ("Springfield", "Riverside", "Fairview", "Georgetown", "Madison", "Clinton", "Franklin", "Ashland", "Dover")
GOODS = ("steel pipe", "office furniture", "frozen produce", "printed circuit boards", "roofing shingles", "lumber")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True)
class Court:
    name: str
    system: str  # "federal" or a state's citation abbreviation ("Ohio", "Cal.")
    paren: str  # how a citation names this court: "9th Cir.", "Ohio"; "" for the Supreme Court of the United States
    reporters: tuple[tuple[str, int], ...]  # (reporter, first year used)
    lower: str  # the court whose judgment is reviewed


_FED = (("F.2d", 1950), ("F.3d", 1993), ("F.4th", 2021))
COURTS = (
    Court("Supreme Court of the United States", "federal", "", (("U.S.", 1900),), "Court of Appeals"),
    Court("United States Court of Appeals for the First Circuit", "federal", "1st Cir.", _FED, "District Court"),
    Court("United States Court of Appeals for the Second Circuit", "federal", "2d Cir.", _FED, "District Court"),
    Court("United States Court of Appeals for the Fifth Circuit", "federal", "5th Cir.", _FED, "District Court"),
    Court("United States Court of Appeals for the Seventh Circuit", "federal", "7th Cir.", _FED, "District Court"),
    Court("United States Court of Appeals for the Ninth Circuit", "federal", "9th Cir.", _FED, "District Court"),
    Court("United States Court of Appeals for the Eleventh Circuit", "federal", "11th Cir.", _FED, "District Court"),
    Court("Supreme Court of Ohio", "Ohio", "Ohio", (("N.E.2d", 1950), ("N.E.3d", 2014)), "Court of Appeals"),
    Court("Supreme Court of California", "Cal.", "Cal.", (("P.2d", 1950), ("P.3d", 2000)), "Court of Appeal"),
    Court("Supreme Court of Texas", "Tex.", "Tex.", (("S.W.2d", 1950), ("S.W.3d", 1999)), "Court of Appeals"),
    Court("Supreme Court of Pennsylvania", "Pa.", "Pa.", (("A.2d", 1950), ("A.3d", 2010)), "Superior Court"),
    Court("Supreme Court of Georgia", "Ga.", "Ga.", (("S.E.2d", 1950),), "Court of Appeals"),
    Court("Supreme Judicial Court of Massachusetts", "Mass.", "Mass.", (("N.E.2d", 1950), ("N.E.3d", 2014)),
          "Superior Court"),
    Court("Supreme Court of Minnesota", "Minn.", "Minn.", (("N.W.2d", 1950),), "Court of Appeals"),
    Court("Supreme Court of Florida", "Fla.", "Fla.", (("So. 2d", 1950), ("So. 3d", 2008)), "District Court of Appeal"),
    Court("Court of Appeals of Texas, Fifth District", "Tex.", "Tex. App.", (("S.W.2d", 1950), ("S.W.3d", 1999)),
          "trial court"),
    Court("Appellate Court of Illinois, First District", "Ill.", "Ill. App. Ct.", (("N.E.2d", 1950), ("N.E.3d", 2014)),
          "circuit court"),
)

# How each disposition is written in the final paragraph, and whether it favours the party that appealed.
DISPOSITIONS = (
    ("AFFIRMED", "The judgment of the {lower} is AFFIRMED.", False),
    ("REVERSED", "The judgment of the {lower} is REVERSED.", True),
    ("REVERSED AND REMANDED", "The judgment of the {lower} is REVERSED, and the case is REMANDED for further "
     "proceedings consistent with this opinion.", True),
    ("VACATED AND REMANDED", "The judgment of the {lower} is VACATED, and the case is REMANDED for further "
     "proceedings consistent with this opinion.", True),
    ("AFFIRMED IN PART AND REVERSED IN PART", "The judgment of the {lower} is AFFIRMED IN PART and REVERSED IN "
     "PART.", True),
    ("DISMISSED", "The appeal is DISMISSED.", False),
    ("DENIED", "The petition for rehearing is DENIED.", False),
    ("GRANTED", "The petition for review is GRANTED, and the order of the {lower} is set aside.", True),
)


@dataclass(frozen=True)
class Topic:
    appellant: str  # "a" or "b": which party lost below and appealed
    kinds: str  # what the parties a and b are: "pp" person/person, "cp" company/person, "xc" anyone/company, ...
    facts: str  # placeholders: {a} {b} (short party names), {city}, {amount}, {goods}, {lower}, {year}
    question: str  # completes "The question presented is whether ..."
    for_appellant: str  # completes "We hold that ..."
    against_appellant: str
    principles: tuple[str, ...]  # each completes "In <case>, <citation>, the court explained that ..."


TOPICS = (
    Topic(
        "a",
        "xx",
        "{a} agreed by email to sell {goods} to {b} for ${amount}. When {b} refused the first delivery in {year}, "
        "{a} sued for breach of contract. The {lower} held that no enforceable contract existed and entered "
        "judgment for {b}.",
        "an exchange of emails bearing the parties' typed names satisfies the writing requirement of the statute "
        "of frauds",
        "the emails, read together, state the quantity and price and are signed within the meaning of the statute",
        "the emails never settled a quantity term and therefore cannot satisfy the statute",
        (
            "an electronic signature counts as a signature when the sender intends to adopt the message",
            "the statute of frauds requires a writing that states the quantity of goods",
            "several writings may be read together when they refer to the same transaction",
            "courts should not use the statute of frauds to defeat a bargain that was in fact made",
        ),
    ),
    Topic(
        "b",
        "sp",
        "Officers in {city} stopped a car driven by {b} for a broken taillight. Saying they smelled marijuana, the "
        "officers searched the trunk and found a handgun. The {lower} refused to suppress the gun, and {b} was "
        "convicted.",
        "the odor of marijuana alone gave the officers probable cause to search the trunk of the car",
        "the odor of marijuana, without more, did not supply probable cause to search the trunk",
        "the odor of marijuana, together with the driver's evasive answers, supplied probable cause",
        (
            "probable cause is judged by the totality of the circumstances known to the officers",
            "the scope of a vehicle search is defined by the object of the search and the places it may be found",
            "evidence obtained through an unlawful search must ordinarily be suppressed",
            "a change in the legal status of a substance bears on what its odor suggests",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} slipped on a wet floor in a store operated by {a} in {city} and broke a wrist. A jury found {a} "
        "negligent and awarded ${amount}. {a} argued that it had no notice of the spill, and the {lower} upheld "
        "the verdict.",
        "a store owner may be charged with constructive notice of a spill that was on the floor for about twenty "
        "minutes",
        "the evidence did not permit a finding that the spill was present long enough to give constructive notice",
        "twenty minutes was long enough for a reasonable jury to find constructive notice",
        (
            "a possessor of land must use reasonable care to discover dangerous conditions",
            "constructive notice may rest on the length of time a hazard was present",
            "a jury verdict stands unless no reasonable juror could have reached it",
            "a business is not an insurer of the safety of its customers",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} worked for {a} for six years before complaining to a supervisor about unpaid overtime. Two weeks "
        "later {b} was fired. {b} sued for retaliation, and the {lower} entered judgment for {b} after a bench "
        "trial, awarding ${amount}.",
        "an internal complaint to a supervisor, made orally, is protected activity under the state wage statute",
        "the statute protects only written complaints filed with the labor department",
        "an oral internal complaint that clearly asserts a violation of the statute is protected activity",
        (
            "remedial employment statutes are read broadly to carry out their purpose",
            "a complaint is filed when a reasonable employer would understand it as an assertion of rights",
            "close timing between a complaint and a firing may support an inference of retaliation",
            "the text of a statute is the starting point of its interpretation",
        ),
    ),
    Topic(
        "a",
        "cp",
        "In {year} {b} learned that a hip implant sold by {a} had shed metal particles for years. {b} sued more "
        "than two years after the surgery but within a year of the discovery. The {lower} refused to dismiss "
        "the claim as untimely.",
        "the limitations period for a products liability claim begins when the injury occurs or when the "
        "plaintiff discovers its cause",
        "the claim accrued at the time of the surgery and is barred",
        "the discovery rule applies and the claim was timely filed",
        (
            "a cause of action accrues when the plaintiff knows or should know of the injury and its cause",
            "statutes of limitations protect defendants from stale claims",
            "a latent injury may not be discoverable through reasonable diligence",
            "the legislature may choose a fixed accrual date, but it must say so plainly",
        ),
    ),
    Topic(
        "a",
        "xc",
        "A fire destroyed a warehouse owned by {a} in {city}. Its insurer, {b}, denied coverage under an exclusion "
        "for losses caused by faulty workmanship. The {lower} agreed with {b} and dismissed the suit for "
        "${amount}.",
        "the faulty workmanship exclusion bars coverage for a fire caused by negligent electrical work",
        "the exclusion is ambiguous as applied to a fire and must be construed in favor of coverage",
        "the exclusion unambiguously applies to loss caused by the negligent electrical work",
        (
            "ambiguous terms in an insurance policy are construed against the insurer",
            "an exclusion is read in light of the policy as a whole",
            "the insurer bears the burden of proving that an exclusion applies",
            "courts give policy language its plain and ordinary meaning",
        ),
    ),
    Topic(
        "a",
        "cp",
        "{b} bought a used truck from {a} on a form contract that required all disputes to be arbitrated in a "
        "distant city, with the buyer paying the arbitrator's fees. {b} sued in {city}, and the {lower} refused "
        "to compel arbitration.",
        "an arbitration clause that shifts all arbitration fees to a consumer is unconscionable",
        "the clause is enforceable because the fee provision can be severed",
        "the fee provision makes the clause unconscionable and it cannot be enforced",
        (
            "arbitration agreements are enforced on the same terms as other contracts",
            "unconscionability requires both procedural and substantive unfairness",
            "costs that prevent a party from vindicating a claim may render a clause unenforceable",
            "a court may sever an unfair term when the rest of the agreement can stand",
        ),
    ),
    Topic(
        "b",
        "sp",
        "{b} pleaded guilty to theft of ${amount} from a nonprofit in {city}. At sentencing the {lower} added two "
        "levels for abuse of a position of trust because {b} had served as the nonprofit's volunteer treasurer.",
        "an unpaid volunteer can hold a position of trust for purposes of the sentencing enhancement",
        "the enhancement requires managerial discretion that the volunteer role did not carry",
        "the volunteer treasurer held a position of trust and the enhancement was properly applied",
        (
            "a position of trust is marked by professional or managerial discretion",
            "the sentencing court's factual findings are reviewed for clear error",
            "the enhancement applies when the position significantly facilitated the offense",
            "payment is not the test of whether a position involves trust",
        ),
    ),
)


@dataclass(frozen=True)
class SyntheticOpinion:
    """One generated opinion and the answers ``court_opinions.py`` must derive from it."""

    record: dict[str, Any]  # id, case_name, court, date_filed, text, citations
    holding: str
    issue: str

    @property
    def citations(self) -> list[str]:
        return self.record["citations"]


def generate_opinions(n: int, seed: int) -> list[SyntheticOpinion]:
    return [generate_opinion(seed, i) for i in range(n)]


def generate_records(n: int, seed: int) -> list[dict[str, Any]]:
    """The corpus as court-opinion records (what ``write_corpus`` writes, one per line)."""
    return [o.record for o in generate_opinions(n, seed)]


def write_corpus(path: str | Path, n: int, seed: int) -> Path:
    """Write ``n`` synthetic opinions as JSON lines (the format ``court_opinions`` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in generate_records(n, seed):
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def generate_opinion(seed: int, index: int) -> SyntheticOpinion:
    rng = random.Random(f"sft-recipes-court:{seed}:{index}")  # a string seed is hashed the same way everywhere
    court = rng.choice(COURTS)
    topic = rng.choice(TOPICS)
    holding, disposition_text, favours_appellant = rng.choice(DISPOSITIONS)
    year = rng.randint(1996, 2024)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    first, second, a, b = _parties(rng, court, topic)
    case_name = f"{first} v. {second}"
    slots = {
        "a": a,
        "b": b,
        "city": rng.choice(CITIES),
        "amount": f"{rng.randint(12, 950) * 1000:,}",
        "goods": rng.choice(GOODS),
        "lower": court.lower,
        "year": year - rng.randint(2, 6),
    }
    cases = _cited_cases(rng, court, year, rng.randint(2, 4))
    principles = rng.sample(topic.principles, len(cases))
    analysis = " ".join(
        f"In {name}, {citation}, the court explained that {principle}." for (name, citation), principle in
        zip(cases, principles)
    )
    question = f"The question presented is whether {topic.question}."
    holding_text = topic.for_appellant if favours_appellant else topic.against_appellant
    judge = rng.choice(SURNAMES).upper()
    text = "\n\n".join(
        [
            f"{case_name}\n{court.name}\nNo. {year % 100:02d}-{rng.randint(100, 9999)}. "
            f"Decided {MONTHS[month - 1]} {day}, {year}.",
            f"{judge}, J., delivered the opinion of the court.",
            f"{topic.facts.format(**slots)} {_capitalize(slots[topic.appellant])} appealed.",
            f"{question} The question is one of law, which we review de novo.",
            f"{analysis} Applying these principles to the record before us, we hold that "
            f"{holding_text}.",
            disposition_text.format(lower=court.lower),
            "It is so ordered.",
        ]
    )
    record = {
        "id": f"syn-{seed}-{index:05d}",
        "case_name": case_name,
        "court": court.name,
        "date_filed": f"{year:04d}-{month:02d}-{day:02d}",
        "text": text,
        "citations": [citation for _, citation in cases],
    }
    return SyntheticOpinion(record=record, holding=holding, issue=question)


def _capitalize(name: str) -> str:
    return name[:1].upper() + name[1:]


def _parties(rng: random.Random, court: Court, topic: Topic) -> tuple[str, str, str, str]:
    """Caption names (capitals) and the short names used in the text, for the first and the second party.

    ``topic.kinds`` says what each party is: p a person, c a company, x either, s the government (criminal cases).
    """
    names = []
    for kind in topic.kinds:
        if kind == "x":
            kind = "c" if rng.random() < 0.4 else "p"
        if kind == "s":
            names.append(_government(court))
        elif kind == "c":
            short = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
            names.append((f"{short.upper()}, {rng.choice(COMPANY_SUFFIXES).upper()}", short))
        else:
            surname = rng.choice(SURNAMES)
            names.append((surname.upper(), surname))
    if names[0][1] == names[1][1]:
        names[1] = ("HALVORSEN", "Halvorsen")
    return names[0][0], names[1][0], names[0][1], names[1][1]


def _government(court: Court) -> tuple[str, str]:
    if court.system == "federal":
        return "UNITED STATES", "the United States"
    state = {"Ohio": "OHIO", "Cal.": "CALIFORNIA", "Tex.": "TEXAS", "Pa.": "PENNSYLVANIA", "Ga.": "GEORGIA",
             "Mass.": "MASSACHUSETTS", "Minn.": "MINNESOTA", "Fla.": "FLORIDA", "Ill.": "ILLINOIS"}[court.system]
    return f"STATE OF {state}", "the State"


def _cited_cases(rng: random.Random, court: Court, year: int, k: int) -> list[tuple[str, str]]:
    """``k`` distinct authorities decided before ``year``: the court's own system, sometimes the Supreme Court."""
    out: dict[str, str] = {}
    while len(out) < k:
        cited_year = rng.randint(1965, year - 1)
        use_scotus = court.paren == "" or rng.random() < 0.3
        name = f"{rng.choice(SURNAMES)} v. {rng.choice(SURNAMES)}"
        if use_scotus:
            volume = 380 + int((cited_year - 1965) * 4.3) + rng.randint(0, 4)
            citation = f"{volume} U.S. {rng.randint(1, 999)} ({cited_year})"
        else:
            reporter = [r for r, since in court.reporters if since <= cited_year][-1]
            paren = court.paren
            if court.system == "federal":
                paren = rng.choice(["1st Cir.", "2d Cir.", "3d Cir.", "5th Cir.", "7th Cir.", "9th Cir.",
                                    "10th Cir.", "11th Cir.", "D.C. Cir."])
            citation = f"{rng.randint(1, 999)} {reporter} {rng.randint(1, 1499)} ({paren} {cited_year})"
        out.setdefault(citation, name)
    return [(name, citation) for citation, name in out.items()]
