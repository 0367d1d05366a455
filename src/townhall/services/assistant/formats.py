"""One reader per file format: HTML, Markdown (with YAML front matter), PDF and Word.

Each turns a file's bytes into a `Page` of sections under headings, or raises `BadFile` with a
reason written for the person who ingested it.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from townhall.services.assistant.chunking import (
    ParsedHtml,
    Section,
    clean,
    one_line,
    parse_html,
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


class BadFile(Exception):
    """One file (or line) cannot be read; the reason is written for the person who ingested it."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason)
        self.url = url  # the page it would have been, when that is known


@dataclass
class Page:
    url: str
    title: str
    sections: list[Section]
    locale: str | None = None  # as declared by the page; detected later when None
    public_updated_at: dt.datetime | None = None
    owner_team: str | None = None
    name: str = ""  # where it came from, for messages: "guides/bins.md", "pages.jsonl:12"


def _refuse_binary(data: bytes) -> None:
    if b"\x00" in data[:8192]:
        raise BadFile("this is a binary file, not text")


def _text_of(data: bytes) -> str:
    _refuse_binary(data)
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadFile("the text is not in a known encoding (save it as UTF-8)")


def _parse(html: str | bytes, title: str | None) -> ParsedHtml:
    try:
        return parse_html(html, title)
    except RecursionError:  # thousands of nested elements: hostile or broken, not guidance
        raise BadFile("the HTML is nested too deeply to read") from None


def _require_sections(sections: list[Section]) -> list[Section]:
    if not sections:
        raise BadFile("no text was found in it")
    return sections


# HTML and Markdown -------------------------------------------------------------------------------


def html_page(
    data: bytes | str, url: str, *, fallback_title: str, title: str | None = None
) -> Page:
    if isinstance(data, bytes):
        _refuse_binary(data)  # the parser itself reads the declared character set
    parsed = _parse(data, title)
    page_title = title or parsed.title or fallback_title
    return Page(url, page_title[:500], _require_sections(parsed.sections), locale=parsed.lang)


def markdown_page(data: bytes, url: str, *, fallback_title: str) -> Page:
    """Markdown with optional YAML front matter: url, title, team, locale, updated."""
    text = _text_of(data)
    try:
        meta, body = front_matter(text)
    except Exception as error:  # yaml raises several kinds; all mean the same to the author
        raise BadFile(f"the front matter is not valid YAML: {one_line(str(error))[:200]}") from None
    title = _optional_str(meta, "title")
    parsed = _parse(markdown_html(body), title)
    team = _optional_str(meta, "team")
    if team and len(team) > 64:
        raise BadFile("the team in the front matter is longer than 64 characters")
    return Page(
        url=_optional_str(meta, "url") or url,
        title=(title or parsed.title or fallback_title)[:500],
        sections=_require_sections(parsed.sections),
        locale=_optional_str(meta, "locale"),
        public_updated_at=parse_date(meta.get("updated"), "updated"),
        owner_team=team,
    )


def _optional_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise BadFile(f"`{key}` must be text")
    return str(value).strip() or None


def parse_date(value: Any, key: str) -> dt.datetime | None:
    """ISO 8601 dates and times (YAML may have parsed them already); naive times are UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadFile(f"`{key}` is not a date (use 2024-03-31 or ISO 8601)") from None
    else:
        raise BadFile(f"`{key}` is not a date (use 2024-03-31 or ISO 8601)")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# Markdown front matter and rendering ------------------------------------------------------------


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML between `---` lines at the top of a Markdown file, and the rest of the file."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = yaml.safe_load(match.group(1)) or {}
    if not isinstance(meta, dict):
        raise ValueError("the front matter between the --- lines is not a set of `key: value`s")
    return meta, text[match.end() :]


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # Raw HTML is allowed through (authors use it for tables); strip_chrome removes scripts.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_html(text: str) -> str:
    return str(_markdown().render(text))


# PDF and Word ------------------------------------------------------------------------------------


def pdf_page(data: bytes, url: str, *, fallback_title: str) -> Page:
    """Text page by page; a PDF has no reliable headings, so each page is a section "Page N"."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadFile("the PDF is password-protected")
        meta = reader.metadata
        title = one_line(str(meta.title)) if meta is not None and meta.title else ""
        language = reader.root_object.get("/Lang")  # declared by accessible PDFs
        sections = []
        for number, pdf_page_ in enumerate(reader.pages, 1):
            text = _pdf_paragraphs(pdf_page_.extract_text() or "")
            if text:
                sections.append(Section(f"Page {number}", text))
    except BadFile:
        raise
    except Exception as error:  # pypdf raises many kinds on damaged files; all mean "unreadable"
        raise BadFile(
            f"not a readable PDF ({type(error).__name__}: {one_line(str(error))[:160]})"
        ) from None
    if not sections:
        raise BadFile("no text was found in the PDF (is it a scan? it needs OCR first)")
    locale = str(language) if language else None
    return Page(url, (title or fallback_title)[:500], sections, locale=locale)


def _pdf_paragraphs(text: str) -> str:
    """Lines joined into paragraphs (a blank line ends one), mending words hyphenated at ends."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        joined = re.sub(r"(\w)-\n(\w)", r"\1\2", block)
        paragraphs.append(" ".join(joined.split()))
    return clean("\n".join(p for p in paragraphs if p))


def docx_page(data: bytes, url: str, *, fallback_title: str) -> Page:
    """Word's Heading 1-4 styles give the heading path; lists and tables are kept."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        title, body = _docx_html(document)
    except Exception as error:  # python-docx raises zip, XML and key errors on damaged files
        raise BadFile(f"not a readable Word document ({type(error).__name__})") from None
    core_title = one_line(document.core_properties.title or "")
    page_title = core_title or title
    parsed = _parse(f"<html><body>{body}</body></html>", page_title or None)
    return Page(
        url,
        (page_title or parsed.title or fallback_title)[:500],
        _require_sections(parsed.sections),
        locale=document.core_properties.language or None,
    )


def _docx_html(document: Any) -> tuple[str, str]:
    from docx.table import Table

    parts: list[str] = []
    title = ""
    open_list = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            if open_list:
                parts.append(f"</{open_list}>")
                open_list = ""
            parts.append(_docx_table(block))
            continue
        text = htmllib.escape(block.text.strip())
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        kind = _docx_kind(style)
        if kind in ("ul", "ol"):
            if open_list != kind:
                if open_list:
                    parts.append(f"</{open_list}>")
                parts.append(f"<{kind}>")
                open_list = kind
            parts.append(f"<li>{text}</li>")
            continue
        if open_list:
            parts.append(f"</{open_list}>")
            open_list = ""
        if kind == "title":
            title = title or block.text.strip()
            parts.append(f"<h1>{text}</h1>")
        else:
            parts.append(f"<{kind}>{text}</{kind}>")
    if open_list:
        parts.append(f"</{open_list}>")
    return title, "\n".join(parts)


def _docx_kind(style: str) -> str:
    lowered = style.lower()
    if lowered == "title":
        return "title"
    match = re.fullmatch(r"heading\s*(\d)", lowered)
    if match:
        level = int(match.group(1))
        return f"h{level}" if level <= 4 else "h5"
    if lowered.startswith("list number"):
        return "ol"
    if lowered.startswith("list"):
        return "ul"
    return "p"


def _docx_table(table: Any) -> str:
    rows = []
    for index, row in enumerate(table.rows):
        cells = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            tag = "th" if index == 0 else "td"
            cells.append(f"<{tag}>{htmllib.escape(one_line(cell.text))}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"
