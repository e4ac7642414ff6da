"""Courts at every level, named as courts-db names them, with the reporters their decisions are cited in.

Levels: the Supreme Court of the United States, the federal courts of appeals, federal district and bankruptcy
courts, state supreme courts, state intermediate appellate courts, and state trial courts. Names and citation
strings ("9th Cir.", "S.D.N.Y.", "Cal. Ct. App.") come from courts-db; which courts are used is chosen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# state -> (abbreviation used in citations, regional reporter series: (reporter, first year))
STATES = {
    "Alabama": ("Ala.", (("So. 2d", 1941), ("So. 3d", 2008))),
    "Arizona": ("Ariz.", (("P.2d", 1931), ("P.3d", 2000))),
    "California": ("Cal.", (("P.2d", 1931), ("P.3d", 2000))),
    "Colorado": ("Colo.", (("P.2d", 1931), ("P.3d", 2000))),
    "Connecticut": ("Conn.", (("A.2d", 1938), ("A.3d", 2010))),
    "Delaware": ("Del.", (("A.2d", 1938), ("A.3d", 2010))),
    "Florida": ("Fla.", (("So. 2d", 1941), ("So. 3d", 2008))),
    "Georgia": ("Ga.", (("S.E.2d", 1939),)),
    "Idaho": ("Idaho", (("P.2d", 1931), ("P.3d", 2000))),
    "Illinois": ("Ill.", (("N.E.2d", 1936), ("N.E.3d", 2014))),
    "Indiana": ("Ind.", (("N.E.2d", 1936), ("N.E.3d", 2014))),
    "Kansas": ("Kan.", (("P.2d", 1931), ("P.3d", 2000))),
    "Massachusetts": ("Mass.", (("N.E.2d", 1936), ("N.E.3d", 2014))),
    "Michigan": ("Mich.", (("N.W.2d", 1942),)),
    "Minnesota": ("Minn.", (("N.W.2d", 1942),)),
    "Mississippi": ("Miss.", (("So. 2d", 1941), ("So. 3d", 2008))),
    "Missouri": ("Mo.", (("S.W.2d", 1928), ("S.W.3d", 1999))),
    "Nevada": ("Nev.", (("P.2d", 1931), ("P.3d", 2000))),
    "New Mexico": ("N.M.", (("P.2d", 1931), ("P.3d", 2000))),
    "New York": ("N.Y.", (("N.E.2d", 1936), ("N.E.3d", 2014))),
    "North Carolina": ("N.C.", (("S.E.2d", 1939),)),
    "Ohio": ("Ohio", (("N.E.2d", 1936), ("N.E.3d", 2014))),
    "Oklahoma": ("Okla.", (("P.2d", 1931), ("P.3d", 2000))),
    "Oregon": ("Or.", (("P.2d", 1931), ("P.3d", 2000))),
    "Pennsylvania": ("Pa.", (("A.2d", 1938), ("A.3d", 2010))),
    "South Carolina": ("S.C.", (("S.E.2d", 1939),)),
    "Tennessee": ("Tenn.", (("S.W.2d", 1928), ("S.W.3d", 1999))),
    "Texas": ("Tex.", (("S.W.2d", 1928), ("S.W.3d", 1999))),
    "Vermont": ("Vt.", (("A.2d", 1938), ("A.3d", 2010))),
    "Washington": ("Wash.", (("P.2d", 1931), ("P.3d", 2000))),
    "West Virginia": ("W. Va.", (("S.E.2d", 1939),)),
    "Wisconsin": ("Wis.", (("N.W.2d", 1942),)),
}
FEDERAL_APPELLATE = (("F.2d", 1924), ("F.3d", 1993), ("F.4th", 2021))
FEDERAL_TRIAL = (("F. Supp.", 1932), ("F. Supp. 2d", 1998), ("F. Supp. 3d", 2014))
BANKRUPTCY = (("B.R.", 1979),)
SUPREME = (("U.S.", 1875),)
STATE_SUPREME_IDS = (
    "ala", "ariz", "cal", "colo", "conn", "del", "fla", "ga", "idaho", "ill", "ind", "kan", "mass", "mich", "minn",
    "miss", "mo", "nev", "nm", "ny", "nc", "ohio", "okla", "or", "pa", "sc", "tenn", "tex", "vt", "wash", "wva", "wis",
)
STATE_APPELLATE_IDS = (
    "alacivapp", "alacrimapp", "arizctapp", "calctapp", "connappct", "fladistctapp", "gactapp", "idahoctapp",
    "illappct", "indctapp", "missctapp", "moctapp", "pasuperct", "scctapp", "tenncrimapp", "texapp", "ohioctapp",
    "nyappdiv", "minnctapp", "michctapp", "wisctapp", "washctapp", "orctapp", "coloctapp", "kanctapp", "ncctapp",
)
STATE_TRIAL_IDS = ("connsuperct", "delsuperct", "nysupct", "njsuperctchdiv", "masssuperct", "paccp", "txdistct")
LEVELS = ("supreme", "federal_appellate", "federal_trial", "bankruptcy", "state_supreme", "state_appellate",
          "state_trial")


@dataclass(frozen=True)
class Court:
    id: str
    name: str  # courts-db's name: what a record's ``court`` holds
    citation: str  # how a citation's parenthetical names it ("9th Cir."); "" for the Supreme Court
    level: str
    state: str | None  # for state courts
    reporters: tuple[tuple[str, int], ...]
    lower: str  # the court whose judgment it reviews ("" for a trial court)

    def reporter(self, year: int) -> str:
        return ([r for r, since in self.reporters if since <= year] or [self.reporters[0][0]])[-1]

    @property
    def appellate(self) -> bool:
        return self.level not in ("federal_trial", "bankruptcy", "state_trial")


@lru_cache(maxsize=1)
def all_courts() -> dict[str, tuple[Court, ...]]:
    """Courts by level (courts-db ids that it does not know are skipped)."""
    from courts_db import courts

    by_id = {c["id"]: c for c in courts}
    out: dict[str, list[Court]] = {level: [] for level in LEVELS}
    out["supreme"].append(Court("scotus", by_id["scotus"]["name"], "", "supreme", None, SUPREME, "Court of Appeals"))
    for c in courts:
        cite = (c.get("citation_string") or "").strip()
        current = all(d.get("end") in (None, "") for d in c.get("dates") or [{}])
        if c.get("system") != "federal" or not current or not cite:
            continue
        if c["id"].startswith("ca") and cite.endswith("Cir."):
            out["federal_appellate"].append(Court(c["id"], c["name"], cite, "federal_appellate", None,
                                                  FEDERAL_APPELLATE, "District Court"))
        elif c.get("type") == "trial" and cite.startswith(("D.", "N.D.", "S.D.", "E.D.", "W.D.", "C.D.", "M.D.")):
            out["federal_trial"].append(Court(c["id"], c["name"], cite, "federal_trial", None, FEDERAL_TRIAL, ""))
        elif c.get("type") == "bankruptcy" and cite.startswith("Bankr."):
            out["bankruptcy"].append(Court(c["id"], c["name"], cite, "bankruptcy", None, BANKRUPTCY, ""))
    for level, ids, lower in (("state_supreme", STATE_SUPREME_IDS, "Court of Appeals"),
                              ("state_appellate", STATE_APPELLATE_IDS, "trial court"),
                              ("state_trial", STATE_TRIAL_IDS, "")):
        for court_id in ids:
            c = by_id.get(court_id)
            if c is None or c.get("location") not in STATES:
                continue
            abbreviation, reporters = STATES[c["location"]]
            cite = (c.get("citation_string") or "").strip() or abbreviation
            out[level].append(Court(court_id, c["name"], cite, level, c["location"], reporters, lower))
    return {level: tuple(courts_) for level, courts_ in out.items() if courts_}
