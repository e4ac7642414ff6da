"""Every record shape people have (flat rows, CourtListener API v4 and bulk files, Caselaw Access Project API, static
and XML cases, a folder of .txt opinions) becomes rows whose answers are in the prompt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sft_recipes.data.formats import convert_records, detect_format
from sft_recipes.data.sources import read_records
from sft_recipes.tasks.court_opinions import LEGAL_SYSTEM_PROMPT, PHRASINGS, TASKS
from sft_recipes.tasks.court_opinions.readers import html_to_text, read_opinion, record_shape

COURT = Path(__file__).parent / "fixtures" / "court"


def rows_of(name: str, fmt: str = "auto"):
    return convert_records(read_records(str(COURT / name)), fmt, name=name)


def answers(result, record_id: str) -> dict[str, str]:
    return {r["task"]: r["messages"][-1]["content"] for r in result.rows if r["group"] == record_id}


def user_turn(result, record_id: str) -> str:
    return next(r["messages"][1]["content"] for r in result.rows if r["group"] == record_id)


def test_flat_rows_without_a_caption_get_the_record_s_caption_on_top():
    result = rows_of("flat.jsonl")
    assert result.format == "court_opinions" and not result.rejects
    assert user_turn(result, "flat-1").startswith(
        "Whitfield v. Marion County School District\nCourt of Appeals for the Seventh Circuit\nDecided August 14, 2019"
        "\n\nKendra Whitfield, a former high school teacher,")
    assert answers(result, "flat-1") == {
        "case_name": "Whitfield v. Marion County School District",
        "court": "Court of Appeals for the Seventh Circuit",
        "holding": "REVERSED AND REMANDED",
        "citations": "Anderson v. Liberty Lobby, Inc., 477 U.S. 242 (1986)\nNabozny v. Podlesny, 92 F.3d 446 (7th Cir. "
                     "1996)",
        "issue": "The question presented is whether Whitfield's remarks at the board meeting were made as a citizen on "
                 "a matter of public concern.",
        "summarize": "Whitfield v. Marion County School District (Court of Appeals for the Seventh Circuit, 2019). "
                     "The question presented is whether "
                     "Whitfield's remarks at the board meeting were made as a citizen on a matter of public concern. "
                     "We hold that Whitfield spoke as a citizen on a matter of public concern, and that a jury could "
                     "find her speech was a motivating factor in the decision not to renew her contract. "
                     "Disposition: REVERSED AND REMANDED.",
    }
    flat2 = answers(result, "flat-2")
    assert flat2["holding"] == "REVERSED AND REMANDED"  # "We therefore reverse ... and remand"
    assert flat2["issue"].startswith("We granted the writ to decide whether an anonymous tip")


def test_rows_share_the_opinion_and_say_where_the_answer_is():
    result = rows_of("flat.jsonl")
    rows = [r for r in result.rows if r["group"] == "flat-1"]
    assert [r["task"] for r in rows] == list(TASKS)
    assert {r["messages"][0]["content"] for r in rows} == {LEGAL_SYSTEM_PROMPT}
    for row in rows:
        user = row["messages"][1]["content"]
        question = user.rsplit("\n\n", 1)[1]
        assert question in PHRASINGS[row["task"]]
        assert row["caption"] == "added" and row["id"] == f"flat-1:{row['task']}"
        assert row["evidence"] and all(0 <= s < e <= len(user) for s, e in row["evidence"])


def test_courtlistener_api_v4_opinion_with_its_cluster():
    result = rows_of("courtlistener_v4.json")
    assert result.format == "court_opinions" and not result.rejects
    got = answers(result, "9001")
    assert got["case_name"] == "Garza v. Riverside Unified School District"  # the cluster's case_name
    assert got["court"] == "Court of Appeals for the Ninth Circuit"  # docket court_id "ca9", named by courts-db
    assert got["holding"] == "REVERSED AND REMANDED"
    assert got["citations"] == "Lane v. Franks, 573 U.S. 228 (2014)\nGarcetti v. Ceballos, 547 U.S. 410 (2006)"
    text = user_turn(result, "9001")
    assert "<" not in text and "*884" not in text  # html_with_citations stripped, star pagination dropped
    assert text.startswith("Garza v. Riverside Unified School District\nCourt of Appeals for the Ninth Circuit\n"
                           "Decided May 17, 2022\n\nNGUYEN, Circuit Judge:\n\nElena Garza, a special education aide")


def test_courtlistener_bulk_files_read_the_caption_from_the_text():
    result = rows_of("courtlistener_bulk")  # a folder of one-opinion JSON files, the cluster only a URL
    johnson, espinoza = answers(result, "4411"), answers(result, "4412")
    assert johnson["case_name"] == "JOHNSON v. THE STATE" and johnson["court"] == "Supreme Court of Georgia"
    assert johnson["holding"] == "AFFIRMED"  # "Judgment affirmed."
    assert johnson["citations"] == "Fare v. Michael C., 442 U.S. 707 (1979)\nDavis v. United States, 512 U.S. 452 (1994)"
    # a two-column federal caption: parties around a "v." line, the court over two lines (courts-db: ca9)
    assert espinoza["case_name"] == "MARIA ESPINOZA v. ACME LOGISTICS, INC."
    assert espinoza["court"] == "UNITED STATES COURT OF APPEALS FOR THE NINTH CIRCUIT"
    assert espinoza["holding"] == "AFFIRMED"
    assert [(r.source, r.reason) for r in result.rejects] == [
        (f"{COURT / 'courtlistener_bulk' / '4412.json'}:1",
         "cannot derive 'issue': no sentence states the question decided")]
    assert all(r["caption"] == "text" for r in result.rows)


def test_courtlistener_api_page_gives_its_results():
    result = rows_of("courtlistener_page.json")
    got = answers(result, "9100")
    assert got["case_name"] == "IN RE MARRIAGE OF PELLETIER" and got["court"] == "Colorado Court of Appeals"
    assert got["holding"] == "AFFIRMED IN PART AND REVERSED IN PART AND REMANDED"
    assert got["summarize"].startswith("IN RE MARRIAGE OF PELLETIER (Colorado Court of Appeals). We are asked to "
                                       "decide whether a pension")


def test_caselaw_access_project_api_case_uses_the_court_s_own_opinion():
    result = rows_of("caselaw_access_api.json")
    assert not result.rejects
    got = answers(result, "2258844")
    assert got["case_name"] == "Theodore Brandt, Appellant, v. Lakeview Mutual Insurance Company, Appellee"
    assert got["court"] == "Court of Appeals of Wisconsin"
    assert got["holding"] == "REVERSED AND REMANDED"  # "By the Court.—Judgment reversed and cause remanded ..."
    # the dissent's citation is not the court's
    assert got["citations"] == "Kremers-Urban Co. v. American Employers Ins. Co., 119 Wis. 2d 722, 351 N.W.2d 156 (1984)"
    text = user_turn(result, "2258844")
    assert "DEININGER, J.\n\nTheodore Brandt appeals" in text and "I would affirm" not in text


def test_caselaw_access_project_static_and_xml_cases():
    static = rows_of("cap_static")  # a folder of pretty-printed case files (one JSON object each)
    got = answers(static, "8001234")
    assert static.format == "court_opinions" and not static.rejects
    assert (got["case_name"], got["court"], got["holding"]) == ("PEOPLE v. OKAFOR", "Illinois Appellate Court",
                                                                "REVERSED")
    xml = rows_of("caselaw_access_xml.json")
    got = answers(xml, "3300")
    assert not xml.rejects
    assert (got["case_name"], got["court"], got["holding"]) == ("In re Estate of Halvorsen",
                                                                "Supreme Court of Minnesota", "AFFIRMED")
    assert "SIMONETT" in user_turn(xml, "3300")  # the XML body keeps its dissent, which the answers stop before


def test_folder_of_txt_opinions():
    result = rows_of("txt", fmt="court_opinions")
    hollis = answers(result, "hollis_v_dane_county")
    assert (hollis["case_name"], hollis["court"], hollis["holding"]) == (
        "Hollis v. Dane County", "Court of Appeals of Wisconsin", "AFFIRMED")
    assert hollis["citations"] == "Lodl v. Progressive N. Ins. Co., 2002 WI 71, 253 Wis. 2d 323, 646 N.W.2d 314"
    memo = answers(result, "untitled_memorandum")
    assert memo["holding"] == "DENIED"  # "the Court DENIES the motion"
    assert "case_name" not in memo and "court" not in memo  # no caption and no metadata: not asked
    reasons = sorted(r.reason for r in result.rejects)
    assert reasons == [
        "cannot derive 'case_name': no case name: the record has none and the text's caption shows none",
        "cannot derive 'court': no court: the record has none and courts-db finds none in the text's caption",
    ]


def test_format_detection_and_shapes():
    assert detect_format({"id", "plain_text", "html_with_citations", "cluster"}) == "court_opinions"
    assert detect_format({"id", "name", "casebody", "court"}) == "court_opinions"
    assert detect_format({"text", "case_name"}) == "court_opinions"
    assert detect_format({"text"}) == "text"  # a bare text is a raw document unless format: court_opinions
    assert record_shape({"casebody": {}}) == "caselaw_access"
    assert record_shape({"plain_text": "x"}) == "courtlistener"
    assert record_shape({"id": 1, "text": "x"}) == "text"


@pytest.mark.parametrize("record,reason", [
    ({"case_name": "A v. B"}, "missing field 'text'"),
    ({"text": 5}, "field 'text' is not a string (int)"),
    ({"text": "   "}, "empty text"),
    ({"casebody": {"data": {"opinions": []}}}, "casebody has no opinions"),
])
def test_records_without_an_opinion_are_rejected_with_the_reason(record, reason):
    from sft_recipes.tasks.court_opinions.readers import NotAnOpinion

    with pytest.raises(NotAnOpinion, match=re.escape(reason)):
        read_opinion(record, "f.jsonl:1")


def test_html_to_text_keeps_paragraphs():
    markup = '<div><p>First <i>para</i>&amp; more.</p><p>Second<span class="star-pagination">*245</span> line<br>next</p></div>'
    assert [p.strip() for p in html_to_text(markup).split("\n\n") if p.strip()] == [
        "First para& more.", "Second line\nnext"]
