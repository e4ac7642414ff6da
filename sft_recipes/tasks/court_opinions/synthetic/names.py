"""Made-up parties, case names, cited authorities and statutes, in the forms real opinions write them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sft_recipes.tasks.court_opinions.synthetic.courts import Court, all_courts

FIRST_NAMES = (
    "Ana", "Brian", "Carla", "Darnell", "Elena", "Farid", "Grace", "Hector", "Irene", "Jamal", "Keiko", "Luis",
    "Marta", "Nadia", "Owen", "Priya", "Quentin", "Rosa", "Samuel", "Tamara", "Umar", "Vera", "Wesley", "Yolanda",
)
SURNAMES = (
    "Abbott", "Alvarez", "Baker", "Barnes", "Bennett", "Brooks", "Carter", "Castillo", "Chen", "Collins", "Cooper",
    "Delgado", "Dixon", "Ellis", "Fischer", "Fleming", "Foster", "Garcia", "Gibson", "Graham", "Hayes", "Hoffman",
    "Holloway", "Jensen", "Kaplan", "Keller", "Kowalski", "Lambert", "Lindqvist", "Marsh", "Mendoza", "Morrison",
    "Nakamura", "Novak", "Okafor", "Osborne", "Patel", "Pierce", "Quinn", "Ramirez", "Reyes", "Sandoval", "Schultz",
    "Serrano", "Sullivan", "Tanaka", "Thornton", "Vance", "Walsh", "Whitaker", "Yamamoto", "Zimmerman", "Adeyemi",
    "Brennan", "Calloway", "Dubois", "Eriksen", "Fontaine", "Gallagher", "Haddad", "Iverson", "Jablonski", "Kruger",
)
COMPANY_WORDS = (
    "Acme", "Bluewater", "Cedar", "Granite", "Harbor", "Ironwood", "Keystone", "Lakeshore", "Meridian", "Northgate",
    "Pinecrest", "Redstone", "Silverline", "Summit", "Westfield", "Amber", "Brightpath", "Coastal", "Driftwood",
    "Evergreen", "Falcon", "Goldleaf", "Highland", "Juniper", "Lighthouse",
)
COMPANY_KINDS = ("Logistics", "Builders", "Insurance", "Foods", "Medical Group", "Properties", "Software", "Freight",
                 "Energy", "Bank", "Motors", "Healthcare", "Realty", "Manufacturing")
SUFFIXES = ("Inc.", "LLC", "Corp.", "Co.", "Ltd.", "L.P.")
AGENCIES = ("Department of Labor", "Board of Education", "Zoning Board of Appeals", "Department of Revenue",
            "Commissioner of Social Security", "Secretary of Health and Human Services", "City Council",
            "Department of Motor Vehicles", "Public Utilities Commission", "Housing Authority")
# Bluebook (T6) forms used in cited case names
ABBREVIATED = ("Nat'l Ass'n of Home Builders", "Int'l Bhd. of Elec. Workers", "Am. Mfg. Co.", "Metro. Life Ins. Co.",
               "Tex. Dep't of Cmty. Affairs", "Sch. Dist. No. 4", "Gen. Motors Corp.", "Pac. Gas & Elec. Co.",
               "Cmty. Hosp. Ass'n", "Ne. Util. Serv. Co.", "First Nat'l Bank", "Mut. Fire Ins. Co.",
               "Bd. of Regents of Univ. Sys.", "Indus. Comm'n", "Fed. Deposit Ins. Corp.", "Envtl. Def. Fund")
STATUTES = {
    "federal": ("42 U.S.C. § 1983", "28 U.S.C. § 1291", "18 U.S.C. § 922(g)", "29 U.S.C. § 207", "8 U.S.C. § 1158",
                "11 U.S.C. § 523(a)", "26 U.S.C. § 162", "20 U.S.C. § 1681", "5 U.S.C. § 706", "28 U.S.C. § 2254",
                "42 U.S.C. § 2000e-2(a)", "15 U.S.C. § 1125(a)", "29 U.S.C. § 1132(a)", "18 U.S.C. § 3553(a)"),
    "California": ("Cal. Civ. Code § 1542", "Cal. Penal Code § 1538.5", "Cal. Lab. Code § 1102.5"),
    "Texas": ("Tex. Penal Code Ann. § 22.01", "Tex. Civ. Prac. & Rem. Code Ann. § 16.003"),
    "Florida": ("Fla. Stat. § 768.81", "Fla. Stat. § 95.11"),
    "Ohio": ("Ohio Rev. Code Ann. § 2305.10", "Ohio Rev. Code Ann. § 4112.02"),
    "New York": ("N.Y. Gen. Bus. Law § 349", "N.Y. Lab. Law § 740"),
    "Wisconsin": ("Wis. Stat. § 893.54",), "Georgia": ("Ga. Code Ann. § 9-3-33",),
    "Michigan": ("Mich. Comp. Laws § 600.5805",), "Minnesota": ("Minn. Stat. § 541.05",),
    "Pennsylvania": ("12 Pa. Cons. Stat. § 2201",), "Washington": ("Wash. Rev. Code § 4.16.080",),
    "Oregon": ("Or. Rev. Stat. § 12.110",), "Colorado": ("Colo. Rev. Stat. § 13-80-102",),
    "Arizona": ("Ariz. Rev. Stat. Ann. § 12-542",),
}


@dataclass(frozen=True)
class Party:
    caption: str  # as a caption prints it: "ACME LOGISTICS, INC."
    name: str  # in a case name: "Acme Logistics, Inc."
    short: str  # in the text: "Acme Logistics", "Garcia", "the State"


@dataclass(frozen=True)
class Authority:
    """A case the opinion cites: how it is written in full, in short, and how the citations answer lists it."""

    name: str  # "Matsushita Elec. Indus. Co. v. Zenith Radio Corp."
    short: str  # "Matsushita"
    volume: int
    reporter: str
    page: int
    parenthetical: str  # "9th Cir. 1999", or "1986"
    parallel: tuple[str, ...] = ()  # "106 S. Ct. 1348", ...

    @property
    def cite(self) -> str:
        return ", ".join([f"{self.volume} {self.reporter} {self.page}", *self.parallel])

    def full(self, pin: int | None = None) -> str:
        pin_text = f", {self.page + pin}" if pin is not None else ""
        first = f"{self.volume} {self.reporter} {self.page}{pin_text}"
        return ", ".join([f"{self.name}", first, *self.parallel]) + f" ({self.parenthetical})"

    def answer(self) -> str:
        return f"{self.name}, {self.cite} ({self.parenthetical})"

    def short_form(self, pin: int) -> str:
        return f"{self.short}, {self.volume} {self.reporter} at {self.page + pin}"


def person(rng: random.Random) -> Party:
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.35:
        full = f"{rng.choice(FIRST_NAMES)} {surname}"
        return Party(full.upper(), full, surname)
    return Party(surname.upper(), surname, surname)


def company(rng: random.Random) -> Party:
    short = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
    suffix = rng.choice(SUFFIXES)
    name = f"{short}, {suffix}" if suffix in ("Inc.", "Ltd.", "L.P.") else f"{short} {suffix}"
    return Party(name.upper(), name, short)


def government(rng: random.Random, court: Court) -> Party:
    if court.state is None:
        return Party("UNITED STATES OF AMERICA", "United States", "the government")
    kind = {"California": "People", "New York": "People", "Illinois": "People", "Michigan": "People",
            "Massachusetts": "Commonwealth", "Pennsylvania": "Commonwealth"}.get(court.state, "State")
    return Party(f"THE {kind.upper()} OF THE STATE OF {court.state.upper()}" if kind == "People" else
                 f"{kind.upper()} OF {court.state.upper()}", kind, f"the {kind}")


def agency(rng: random.Random) -> Party:
    name = rng.choice(AGENCIES)
    return Party(name.upper(), name, f"the {name.split(' of ')[0]}")


def cited_authorities(rng: random.Random, court: Court, year: int, k: int) -> list[Authority]:
    """``k`` distinct cases decided before ``year``: the Supreme Court, the court's own system, its neighbours."""
    out: dict[str, Authority] = {}
    while len(out) < k:
        cited_year = rng.randint(max(1950, year - 60), year - 1)
        source = _cited_court(rng, court)
        name, short = cited_case_name(rng, source)
        if source.level == "supreme":
            volume = max(1, 338 + int((cited_year - 1950) * 4.3) + rng.randint(0, 4))
            parallel = ()
            if rng.random() < 0.2 and cited_year >= 1960:
                parallel = (f"{volume - 290 + rng.randint(0, 9)} S. Ct. {rng.randint(1, 3000)}",
                            f"{rng.randint(1, 190)} L. Ed. 2d {rng.randint(1, 1200)}")
            a = Authority(name, short, volume, "U.S.", rng.randint(1, 999), str(cited_year), parallel)
        else:
            paren = f"{source.citation} {cited_year}"
            a = Authority(name, short, rng.randint(1, 999), source.reporter(cited_year), rng.randint(1, 1499), paren)
        out.setdefault(f"{a.volume} {a.reporter} {a.page}", a)
    return list(out.values())


def cited_case_name(rng: random.Random, court: Court) -> tuple[str, str]:
    """A case name as a citing opinion writes it, and its short form."""
    roll = rng.random()
    a, b = rng.choice(SURNAMES), rng.choice(SURNAMES)
    if roll < 0.12 and court.level != "supreme":
        return f"In re {rng.choice(('Estate of ', 'Marriage of ', ''))}{a}", a
    if roll < 0.22:
        gov = "United States" if court.state is None else rng.choice(("State", "People", "Commonwealth"))
        return f"{gov} v. {a}", a
    if roll < 0.34:
        org = rng.choice(ABBREVIATED)
        return (f"{org} v. {a}", org.split()[0]) if rng.random() < 0.5 else (f"{a} v. {org}", a)
    if roll < 0.40:
        return f"State ex rel. {a} v. {b}", a
    if roll < 0.55:
        return f"{a} v. {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}, {rng.choice(('Inc.', 'LLC'))}", a
    return f"{a} v. {b}", a


def statutes(rng: random.Random, court: Court, k: int) -> list[str]:
    pool = list(STATUTES["federal"]) if court.state is None or rng.random() < 0.3 else []
    pool += list(STATUTES.get(court.state or "", ()))
    pool = pool or list(STATUTES["federal"])
    return rng.sample(pool, min(k, len(pool)))


def _cited_court(rng: random.Random, court: Court) -> Court:
    courts = all_courts()
    if court.level == "supreme" or rng.random() < 0.25:
        return courts["supreme"][0]
    if court.state is None:
        level = rng.choice(("federal_appellate", "federal_appellate", "federal_trial"))
        if court.level == "bankruptcy" and rng.random() < 0.5:
            level = "bankruptcy"
        return court if level == court.level and rng.random() < 0.5 else rng.choice(courts[level])
    same_state = [c for level in ("state_supreme", "state_appellate") for c in courts[level] if c.state == court.state]
    return rng.choice(same_state or list(courts["state_supreme"]))
