"""Citations found with eyecite, compared with hand-written expected lists: the form the opinion uses, less pin cites
and explanatory parentheticals, reporters normalised, short forms / Id. / supra / statutes not listed as cases."""

from __future__ import annotations

import pytest

from sft_recipes.tasks.court_opinions.citations import case_citations, citation_keys, statute_citations
from sft_recipes.tasks.court_opinions.metrics import citation_key_f1

CASES = [
    ("See Celotex Corp. v. Catrett, 477 U.S. 317, 322 (1986); Matsushita Elec. Indus. Co. v. Zenith Radio Corp., "
     "475 U.S. 574, 586-87 (1986).",
     ["Celotex Corp. v. Catrett, 477 U.S. 317 (1986)",
      "Matsushita Elec. Indus. Co. v. Zenith Radio Corp., 475 U.S. 574 (1986)"]),
    ("In Cleveland Board of Education v. Loudermill, 470 U.S. 532 (1985), the Court held that a hearing is due.",
     ["Cleveland Board of Education v. Loudermill, 470 U.S. 532 (1985)"]),
    ("Roe v. Wade, 410 U.S. 113, 93 S. Ct. 705, 35 L. Ed. 2d 147 (1973).",
     ["Roe v. Wade, 410 U.S. 113, 93 S. Ct. 705, 35 L. Ed. 2d 147 (1973)"]),
    ("The rule is settled. United States v. Leon, 468 U.S. 897, 922 (1984).",
     ["United States v. Leon, 468 U.S. 897 (1984)"]),
    ("See, e.g., Smith v. Jones, 123 F.3d 456, 460 (9th Cir. 1999) (holding that the stop was lawful).",
     ["Smith v. Jones, 123 F.3d 456 (9th Cir. 1999)"]),
    ("as we explained in Doe v. Roe, 45 Cal. 4th 1, 10 (2008).", ["Doe v. Roe, 45 Cal. 4th 1 (2008)"]),
    ("cf. In re Marriage of Smith, 123 P.3d 456 (Colo. App. 2005).",
     ["In re Marriage of Smith, 123 P.3d 456 (Colo. App. 2005)"]),
    ("People v. Hall, 2019 IL 123456, ¶ 12.", ["People v. Hall, 2019 IL 123456"]),
    ("Ex parte Young, 209 U.S. 123 (1908), remains good law.", ["Ex parte Young, 209 U.S. 123 (1908)"]),
    ("State ex rel. Jones v. Brown, 600 S.W.2d 123 (Mo. Ct. App. 1980).",
     ["State ex rel. Jones v. Brown, 600 S.W.2d 123 (Mo. Ct. App. 1980)"]),
    ("Bell Atlantic Corp. v. Twombly, 550 U.S. 544, 570 (2007). Ashcroft v. Iqbal, 556 U.S. 662, 678 (2009).",
     ["Bell Atlantic Corp. v. Twombly, 550 U.S. 544 (2007)", "Ashcroft v. Iqbal, 556 U.S. 662 (2009)"]),
    ("Nat'l Fed'n of Indep. Bus. v. Sebelius, 567 U.S. 519 (2012)",
     ["Nat'l Fed'n of Indep. Bus. v. Sebelius, 567 U.S. 519 (2012)"]),
    ("Brown v. Board of Educ. of Topeka, 347 U. S. 483 (1954)",  # "U. S." is written "U.S."
     ["Brown v. Board of Educ. of Topeka, 347 U.S. 483 (1954)"]),
    ("Miranda v. Arizona, 384 U.S. 436 (1966). Id. at 444.", ["Miranda v. Arizona, 384 U.S. 436 (1966)"]),
    ("Terry v. Ohio, 392 U.S. 1, 21 (1968) (officer may stop). Terry, 392 U.S. at 27.",
     ["Terry v. Ohio, 392 U.S. 1 (1968)"]),
    ("United States v. Smith, 12 F.4th 345 (2d Cir. 2021).", ["United States v. Smith, 12 F.4th 345 (2d Cir. 2021)"]),
    ("Hernandez v. Mesa, 885 F. 3d 811, 815 (5th Cir. 2018) (en banc).",  # "F. 3d" is written "F.3d"
     ["Hernandez v. Mesa, 885 F.3d 811 (5th Cir. 2018)"]),
    ("Jones v. Acme Corp., No. 19-cv-1234, 2020 WL 123456, at *3 (S.D.N.Y. Jan. 5, 2020).",
     ["Jones v. Acme Corp., 2020 WL 123456 (S.D.N.Y. Jan. 5, 2020)"]),
    ("McDonnell Douglas Corp. v. Green, 411 U.S. 792 (1973); see also Tex. Dep't of Cmty. Affairs v. Burdine, "
     "450 U.S. 248, 253 (1981).",
     ["McDonnell Douglas Corp. v. Green, 411 U.S. 792 (1973)",
      "Tex. Dep't of Cmty. Affairs v. Burdine, 450 U.S. 248 (1981)"]),
    ("Commonwealth v. Gonsalves, 429 Mass. 658, 662, 711 N.E.2d 108 (1999).",
     ["Commonwealth v. Gonsalves, 429 Mass. 658, 711 N.E.2d 108 (1999)"]),
    ("Under Smith v. Jones, 1 F.3d 2 (1st Cir. 1993), and again in Smith v. Jones, 1 F.3d 2, 5 (1st Cir. 1993), "
     "the rule held. Smith, supra, at 6.",  # one case cited twice in full is listed once
     ["Smith v. Jones, 1 F.3d 2 (1st Cir. 1993)"]),
    ("II. DISCUSSION\n\nBarnes v. Ellis, 897 A.2d 203 (Pa. 2006), controls.",  # a heading is not part of a name
     ["Barnes v. Ellis, 897 A.2d 203 (Pa. 2006)"]),
    ("Compare Quinn v. Hayes, 748 F. Supp. 2d 247 (S.D. Ga. 2010), with Pierce v. Amber Foods, LLC, 456 B.R. 789 "
     "(Bankr. D. Ariz. 2011).",
     ["Quinn v. Hayes, 748 F. Supp. 2d 247 (S.D. Ga. 2010)", "Pierce v. Amber Foods, LLC, 456 B.R. 789 (Bankr. D. "
      "Ariz. 2011)"]),
    ("The claim fails under 42 U.S.C. § 1983. Id. See generally Fed. R. Civ. P. 56(a).", []),
    ("Guided by State ex rel. Castillo v. Graham, 993 A.2d 280 (Conn. App. Ct. 2001), we affirm.",  # not "Guided by"
     ["State ex rel. Castillo v. Graham, 993 A.2d 280 (Conn. App. Ct. 2001)"]),
    ("Summary judgment is proper when no genuine dispute remains (Celotex Corp. v. Catrett, 477 U.S. 317, 322 "
     "(1986)).",  # a citation in parentheses: the parenthesis opens the name
     ["Celotex Corp. v. Catrett, 477 U.S. 317 (1986)"]),
    ("The period is two years. See Tex. Civ. Prac. & Rem. Code Ann. § 16.003. Dixon v. Yamamoto, 470 U.S. 811 "
     "(1980), is not to the contrary.",  # a section number ends its sentence; it is not an abbreviation
     ["Dixon v. Yamamoto, 470 U.S. 811 (1980)"]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_case_citations_match_hand_written_lists(text, expected):
    assert [c.render() for c in case_citations(text)] == expected


def test_at_least_twenty_varied_citation_strings():
    assert len(CASES) >= 20
    assert sum(len(expected) for _, expected in CASES) >= 25


def test_each_citation_points_at_its_text():
    text = CASES[0][0]
    found = case_citations(text)
    assert [text[c.span.start : c.span.end] for c in found] == [
        "Celotex Corp. v. Catrett, 477 U.S. 317, 322 (1986)",
        "Matsushita Elec. Indus. Co. v. Zenith Radio Corp., 475 U.S. 574, 586-87 (1986)",
    ]


def test_statutes_are_their_own_list_with_subsections():
    text = ("Under 42 U.S.C. § 1983 and Cal. Civ. Code § 1542, and 28 U.S.C. § 1291, see 18 U.S.C. § 922(g)(1). "
            "Again 42 U.S.C. § 1983. Smith v. Jones, 1 F.3d 2 (1st Cir. 1993).")
    assert [s for s, _ in statute_citations(text)] == [
        "42 U.S.C. § 1983", "Cal. Civ. Code § 1542", "28 U.S.C. § 1291", "18 U.S.C. § 922(g)(1)"]
    assert [c.render() for c in case_citations(text)] == ["Smith v. Jones, 1 F.3d 2 (1st Cir. 1993)"]


def test_citation_keys_ignore_names_and_reporter_spacing():
    assert citation_keys("Anderson, 477 U. S. 242 (1986)\n123 F. 3d 456") == {"477 U.S. 242", "123 F.3d 456"}
    reference = "Anderson v. Liberty Lobby, Inc., 477 U.S. 242 (1986)\nSmith v. Jones, 123 F.3d 456 (9th Cir. 1999)"
    assert citation_key_f1("477 U.S. 242 (1986)", reference) == pytest.approx(2 / 3)
    assert citation_key_f1("no citations at all", reference) == 0.0


def test_empty_answers_have_no_citations():
    assert citation_keys("") == set() and citation_key_f1("", "Smith v. Jones, 1 F.3d 2 (1st Cir. 1993)") == 0.0
