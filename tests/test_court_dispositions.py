"""Dispositions in every tense and multi-part form become canonical capitals; history and dissents do not count."""

from __future__ import annotations

import pytest

from sft_recipes.tasks.court_opinions.dispositions import court_opinion_end, find_disposition

BODY = "The facts are not in dispute, and the parties agree on the governing standard of review.\n\n"

FORMS = [
    # lines of disposition words
    ("AFFIRMED.", "AFFIRMED"),
    ("VACATED AND REMANDED.", "VACATED AND REMANDED"),
    ("Reversed and remanded.", "REVERSED AND REMANDED"),
    ("AFFIRMED IN PART, REVERSED IN PART, AND REMANDED.", "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED"),
    ("AFFIRMED IN PART; REVERSED IN PART; AND REMANDED.", "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED"),
    ("Judgment affirmed.", "AFFIRMED"),
    ("Judgment affirmed as modified.", "AFFIRMED AS MODIFIED"),
    ("Judgment reversed and cause remanded.", "REVERSED AND REMANDED"),
    ("Petition for review granted.", "GRANTED"),
    ("By the Court.\u2014Judgment reversed and cause remanded with directions.", "REVERSED AND REMANDED"),
    ("REVERSED and REMANDED with instructions to dismiss.", "REVERSED AND REMANDED"),
    ("AFFIRMED, and costs are awarded to the appellee.", "AFFIRMED"),
    # present passive
    ("The judgment of the Court of Appeals is reversed, and the case is remanded for further proceedings "
     "consistent with this opinion.", "REVERSED AND REMANDED"),
    ("The judgment of the District Court, which had denied the motion, is VACATED, and the case is REMANDED.",
     "VACATED AND REMANDED"),
    ("The petition for review is DENIED.", "DENIED"),
    ("Accordingly, the motion to dismiss is GRANTED.", "GRANTED"),
    ("The decision of the Board is affirmed in all respects.", "AFFIRMED"),
    ("The judgment is affirmed in part and reversed in part, and the case is remanded.",
     "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED"),
    ("The appeal is dismissed for lack of jurisdiction.", "DISMISSED"),
    ("The judgment stands affirmed.", "AFFIRMED"),
    # "we" in the present
    ("We AFFIRM.", "AFFIRMED"),
    ("For these reasons, we therefore REVERSE the judgment of the Court of Appeals and REMAND the case for further "
     "proceedings.", "REVERSED AND REMANDED"),
    ("We affirm in part, reverse in part, and remand.", "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED"),
    ("We vacate the judgment and remand for resentencing.", "VACATED AND REMANDED"),
    ("We therefore reverse the conviction and sentence and remand for a new trial.", "REVERSED AND REMANDED"),
    ("Accordingly, we affirm, and we remand for the entry of judgment.", "AFFIRMED AND REMANDED"),
    # the court in the third person
    ("For these reasons, the Court GRANTS in part and DENIES in part the motion.",
     "GRANTED IN PART AND DENIED IN PART"),
    ("The Court therefore denies the motion.", "DENIED"),
    # future, modal, orders
    ("The order will be vacated and the matter remanded.", "VACATED AND REMANDED"),
    ("The judgment must be reversed.", "REVERSED"),
    ("IT IS ORDERED that the judgment of the District Court be AFFIRMED.", "AFFIRMED"),
    ("IT IS ORDERED that the petition be, and it hereby is, DENIED.", "DENIED"),
    ("The motion is hereby GRANTED IN PART and DENIED IN PART.", "GRANTED IN PART AND DENIED IN PART"),
]


@pytest.mark.parametrize("sentence,expected", FORMS, ids=[f"form{i}" for i in range(len(FORMS))])
def test_disposition_forms(sentence, expected):
    found = find_disposition(f"{BODY}{sentence}\n\nIt is so ordered.")
    assert found is not None and found[0] == expected
    assert sentence.split()[0] in found[1].text  # the evidence is the paragraph that states it


@pytest.mark.parametrize("sentence", [
    "The Court of Appeals affirmed. We granted certiorari.",  # history, in the past tense
    "The district court denied the motion, and the jury returned a verdict for the plaintiff.",
    "The judgment was reversed on appeal in 2004, and the case was remanded.",
    "A public employee who may be fired only for cause is entitled to a hearing before she is dismissed.",
    "We would reverse the judgment.",  # what a court would do is not what it does
    "Because the record is incomplete, we cannot affirm on this ground alone.",
], ids=lambda s: s[:30])
def test_not_a_disposition(sentence):
    assert find_disposition(f"{BODY}{sentence}") is None


def test_vacated_and_remanded_is_not_cut_to_its_first_word():
    text = f"{BODY}The judgment is VACATED, and the case is REMANDED to the district court.\n\nIt is so ordered."
    assert find_disposition(text)[0] == "VACATED AND REMANDED"


def test_the_last_paragraph_that_disposes_wins():
    text = f"{BODY}We affirm the ruling on the first claim.\n\nThe judgment is otherwise REVERSED.\n\nSO ORDERED."
    assert find_disposition(text)[0] == "REVERSED"


def test_a_dissent_or_footnotes_after_the_opinion_are_not_the_court_s():
    opinion = f"{BODY}We AFFIRM.\n\nIt is so ordered."
    for tail in ("JONES, J., dissenting.\n\nI respectfully dissent. The judgment should be reversed. I would "
                 "reverse.",
                 "Justice SCALIA, with whom THE CHIEF JUSTICE joins, dissenting.\n\nThe judgment is reversed.",
                 "SIMONETT, Justice (dissenting).\n\nThe order is vacated.",
                 "FOOTNOTES\n\n[1] The motion to strike is DENIED as moot."):
        text = f"{opinion}\n\n{tail}"
        assert court_opinion_end(text) == len(opinion) + 2
        assert find_disposition(text)[0] == "AFFIRMED"


def test_court_specific_spellings():
    for line, expected in (("AFFIRMED-IN-PART, REVERSED-IN-PART, AND REMANDED", "AFFIRMED IN PART AND REVERSED IN PART AND "
                            "REMANDED"), ("Order affirmed, with costs.", "AFFIRMED")):
        assert find_disposition(f"{BODY}{line}")[0] == expected
