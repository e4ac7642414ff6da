"""Court-opinion records in the shapes people have, read into one ``Opinion``.

    flat                {"id", "case_name", "court" | "court_id", "date_filed", "text", ...}   (the seed notebook's)
    courtlistener       a CourtListener opinion object (REST API v4, or one file of the bulk data): the text from
                        ``plain_text``, else ``html_with_citations`` / ``html`` / ``html_lawbox`` / ``html_columbia`` /
                        ``xml_harvard`` / ``html_anon_2020`` stripped to text; ``case_name`` (else ``case_name_full``)
                        and ``date_filed`` from the record or its ``cluster`` when that is an object; the court from
                        ``court_id`` / ``court`` of the record, its cluster or the cluster's docket (an id such as
                        "ca9", or an API URL ending in it, is named with courts-db)
    caselaw_access      a Caselaw Access Project (case.law) case: ``name`` (else ``name_abbreviation``),
                        ``court.name``, ``decision_date``, and the court's own opinions (not concurrences or
                        dissents) from ``casebody.opinions`` or ``casebody.data.opinions``, each after its
                        ``author`` line, one paragraph per line; a ``casebody.data`` string (the XML / HTML body
                        formats) is stripped to text
    text                {"id", "text"} only, such as a file of a folder of ``.txt`` opinions: no metadata, so the
                        case name and court must be read from the opinion's own caption

A record that holds no opinion text is rejected with the reason; nothing else about a record is required here
(a question whose answer the record cannot support is not built, see builder.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sft_recipes.tasks.court_opinions.text import clean_opinion_text

COURTLISTENER_TEXT_FIELDS = (
    "plain_text", "html_with_citations", "html", "html_lawbox", "html_columbia", "xml_harvard", "html_anon_2020",
)
COURT_OWN_OPINIONS = ("majority", "plurality", "per curiam", "per_curiam", "unanimous", "lead", "opinion", "combined")
_BLOCK_TAGS = {
    "p", "div", "pre", "blockquote", "center", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "section",
    "article", "opinion", "parties", "docketnumber", "court", "decisiondate", "author", "headnotes", "summary",
    "footnote", "casebody", "attorneys", "judges", "otherdate", "seealso", "syllabus",
}
_DROP_TAGS = {"script", "style", "head"}


class NotAnOpinion(ValueError):
    """The record holds no opinion text; the message is the reject reason."""


@dataclass
class Opinion:
    id: str
    text: str  # the opinion as the prompt shows it (HTML stripped, whitespace normalised)
    case_name: str | None = None
    court: str | None = None
    date_filed: str | None = None
    shape: str = "flat"


def record_shape(record: dict[str, Any]) -> str:
    if isinstance(record.get("casebody"), dict):
        return "caselaw_access"
    if any(record.get(k) for k in COURTLISTENER_TEXT_FIELDS):
        return "courtlistener"
    if set(record) <= {"id", "text", "source", "path"}:
        return "text"
    return "flat"


def read_opinion(record: dict[str, Any], fallback_id: str) -> Opinion:
    """One record -> an ``Opinion``; ``NotAnOpinion`` when it holds no opinion text."""
    shape = record_shape(record)
    reader = {"caselaw_access": _caselaw_access, "courtlistener": _courtlistener}.get(shape, _flat)
    opinion = reader(record)
    opinion.shape = shape
    opinion.id = _string_id(record.get("id")) or fallback_id
    opinion.text = clean_opinion_text(opinion.text)
    if not opinion.text:
        raise NotAnOpinion("empty text")
    return opinion


def _flat(record: dict[str, Any]) -> Opinion:
    text = record.get("text")
    if text is None:
        raise NotAnOpinion(
            "missing field 'text' (a court opinion needs 'text', CourtListener's 'plain_text' / 'html...', or a "
            "Caselaw Access Project 'casebody')"
        )
    if not isinstance(text, str):
        raise NotAnOpinion(f"field 'text' is not a string ({type(text).__name__})")
    court = _string(record.get("court")) or court_name(_string(record.get("court_id")))
    return Opinion("", text, _string(record.get("case_name")), court, _string(record.get("date_filed")))


def _courtlistener(record: dict[str, Any]) -> Opinion:
    field = next(k for k in COURTLISTENER_TEXT_FIELDS if isinstance(record.get(k), str) and record[k].strip())
    text = record[field] if field == "plain_text" else html_to_text(record[field])
    cluster = record.get("cluster") if isinstance(record.get("cluster"), dict) else {}
    docket = cluster.get("docket") if isinstance(cluster.get("docket"), dict) else {}
    if isinstance(record.get("docket"), dict):
        docket = record["docket"]
    case_name = _first(record, cluster, keys=("case_name", "case_name_full", "caseName"))
    date = _first(record, cluster, keys=("date_filed", "dateFiled"))
    court = None
    for source in (record, cluster, docket):
        court = _court(source)
        if court:
            break
    return Opinion("", text, case_name, court, date)


def _caselaw_access(record: dict[str, Any]) -> Opinion:
    body = record["casebody"]
    data = body.get("data", body)
    if isinstance(data, str):
        text = html_to_text(data)
    else:
        opinions = data.get("opinions") if isinstance(data, dict) else None
        if not isinstance(opinions, list) or not opinions:
            raise NotAnOpinion("casebody has no opinions (expected casebody.opinions or casebody.data.opinions)")
        text = "\n\n".join(_cap_opinion_text(o) for o in _court_own(opinions))
    court = record.get("court")
    court_name_ = _string(court.get("name")) if isinstance(court, dict) else _string(court)
    name = _string(record.get("name")) or _string(record.get("name_abbreviation"))
    return Opinion("", text, name, court_name_, _string(record.get("decision_date")))


def _court_own(opinions: list[Any]) -> list[dict[str, Any]]:
    """The court's own opinions (majority, per curiam, ...), else the first one."""
    usable = [o for o in opinions if isinstance(o, dict) and isinstance(o.get("text"), str)]
    own = [o for o in usable if str(o.get("type", "majority")).lower() in COURT_OWN_OPINIONS]
    if own:
        return own
    if usable:
        return usable[:1]
    raise NotAnOpinion("casebody opinions have no 'text'")


def _cap_opinion_text(opinion: dict[str, Any]) -> str:
    """The author line, then the text with each line a paragraph (the Caselaw Access Project's text format puts
    one paragraph on each line)."""
    author = _string(opinion.get("author"))
    body = "\n\n".join(line for line in opinion["text"].split("\n") if line.strip())
    return f"{author}\n\n{body}" if author else body


def html_to_text(markup: str) -> str:
    """HTML or XML opinion markup as plain text: block elements become paragraphs, ``<br>`` a line break, star
    pagination (CourtListener's ``<span class="star-pagination">*245</span>``) is dropped, entities are decoded;
    text keeps its own line breaks (``<pre>`` text is hard-wrapped plain text)."""
    import lxml.html

    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup).strip()  # lxml refuses a str that declares an encoding
    if not markup:
        return ""
    try:
        root = lxml.html.fromstring(markup)
    except Exception:  # lxml raises several types for markup it cannot parse at all
        return re.sub(r"<[^>]+>", " ", markup)
    parts: list[str] = []
    _walk(root, parts)
    return "".join(parts)


def _walk(element: Any, parts: list[str]) -> None:
    tag = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""  # XML: no namespace
    classes = str(element.get("class", "")) if tag else ""
    if tag in _DROP_TAGS or "star-pagination" in classes or tag == "page-number":
        if element.tail:
            parts.append(element.tail)
        return
    block = tag in _BLOCK_TAGS
    if block:
        parts.append("\n\n")
    if tag == "br":
        parts.append("\n")
    if element.text and tag:
        parts.append(element.text)
    for child in element:
        _walk(child, parts)
    if block:
        parts.append("\n\n")
    if element.tail:
        parts.append(element.tail)


def court_name(court_id: str | None) -> str | None:
    """A CourtListener / courts-db court id ("ca9", "scotus") -> the court's name; None when unknown."""
    if not court_id:
        return None
    from courts_db import find_court_by_id

    found = find_court_by_id(court_id.strip().lower())
    return found[0]["name"] if found else None


def _court(source: dict[str, Any]) -> str | None:
    """The court of a CourtListener object: ``court_id``, or ``court`` as an id, an API URL or a name."""
    for key in ("court_id", "court"):
        value = source.get(key)
        if isinstance(value, dict):
            value = value.get("full_name") or value.get("name") or value.get("id")
        value = _string(value)
        if not value:
            continue
        if value.startswith("http"):
            value = value.rstrip("/").rsplit("/", 1)[-1]
        if " " in value:
            return value
        name = court_name(value)
        if name:
            return name
    return None


def _first(*sources: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        for source in sources:
            value = _string(source.get(key))
            if value:
                return value
    return None


def _string(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def _string_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value) or None
