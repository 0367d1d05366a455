"""Reading sources into pages: folders, HTML, Markdown, PDF, Word and JSON-lines files."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from conftest import make_settings
from townhall.services.assistant.sources import (
    Page,
    Problem,
    SourceError,
    count,
    normalise_source,
    read,
)
from townhall.settings import Settings


def make_pdf(pages: list[list[str]], title: str | None = None, lang: str = "") -> bytes:
    """A small valid PDF with one line of Helvetica text per string (no PDF library needed)."""
    objects: list[bytes] = []
    kids = []
    for number, lines in enumerate(pages):
        stream = (
            b"BT /F1 12 Tf 72 720 Td 16 TL "
            + b" ".join(
                b"(" + line.encode("latin-1").replace(b"(", b"\\(").replace(b")", b"\\)") + b") '"
                for line in lines
            )
            + b" ET"
        )
        content_id = 4 + 2 * number
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % content_id
        )
        kids.append(b"%d 0 R" % (content_id + 1))
    head = [
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % (b" /Lang (%s)" % lang.encode() if lang else b""),
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    everything = head + objects
    info = None
    if title:
        everything.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
        info = len(everything)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(everything, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(everything) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root 1 0 R" % (len(everything) + 1)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "Blue badge guide"
    document.core_properties.language = "en-GB"
    document.add_paragraph("Blue badges help disabled people park near where they need to go.")
    document.add_heading("Apply", level=1)
    document.add_paragraph("You can apply online or by post.")
    document.add_heading("Who can apply", level=2)
    document.add_paragraph("people who get the higher rate mobility component", style="List Bullet")
    document.add_paragraph("people who are registered blind", style="List Bullet")
    document.add_heading("Costs", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (area, fee) in enumerate([("Nation", "Fee"), ("England", "£10"), ("Wales", "free")]):
        table.cell(row, 0).text = area
        table.cell(row, 1).text = fee
    document.save(str(path))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path / 'unused.db'}")


def pages_and_problems(
    source: Path | str, settings: Settings
) -> tuple[dict[str, Page], list[Problem]]:
    pages: dict[str, Page] = {}
    problems: list[Problem] = []
    for item in read(str(source), settings):
        if isinstance(item, Page):
            pages[item.name] = item
        else:
            problems.append(item)
    return pages, problems


def test_a_folder_of_every_kind_of_file_is_read_recursively(
    tmp_path: Path, settings: Settings
) -> None:
    (tmp_path / "guides" / "waste").mkdir(parents=True)
    (tmp_path / "guides" / "bins.html").write_text(
        "<html><head><title>Bins - Council</title></head><body><nav>Home</nav>"
        "<main><h1>Bin collections</h1><h2>When</h2><p>Every Monday.</p></main></body></html>"
    )
    (tmp_path / "guides" / "waste" / "garden.md").write_text(
        "---\ntitle: Garden waste\nteam: waste-services\nlocale: en-GB\nupdated: 2024-04-01\n"
        "url: https://council.example/garden-waste\n---\n## Permits\n\nA permit costs £45 a year.\n"
    )
    (tmp_path / "guides" / "leaflet.pdf").write_bytes(
        make_pdf([["Recycling leaflet", "Rinse tins and cans."], ["Glass goes in the box."]])
    )
    make_docx(tmp_path / "badge.docx")
    (tmp_path / "notes.txt").write_text("not a page format")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "draft.html").write_text("<p>draft</p>")

    assert count(str(tmp_path)) == 4
    pages, problems = pages_and_problems(tmp_path, settings)
    assert problems == []
    assert sorted(pages) == [
        "badge.docx",
        "guides/bins.html",
        "guides/leaflet.pdf",
        "guides/waste/garden.md",
    ]

    bins = pages["guides/bins.html"]
    assert (bins.url, bins.title) == ("file:guides/bins.html", "Bin collections")
    assert [(s.heading, s.text) for s in bins.sections] == [("When", "Every Monday.")]

    garden = pages["guides/waste/garden.md"]
    assert garden.url == "https://council.example/garden-waste"
    assert (garden.title, garden.owner_team, garden.locale) == (
        "Garden waste",
        "waste-services",
        "en-GB",
    )
    assert garden.public_updated_at == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    assert [(s.heading, s.text) for s in garden.sections] == [
        ("Permits", "A permit costs £45 a year.")
    ]

    leaflet = pages["guides/leaflet.pdf"]
    assert leaflet.title == "Leaflet"  # no title in the PDF: from the file name
    assert [(s.heading, s.text) for s in leaflet.sections] == [
        ("Page 1", "Recycling leaflet Rinse tins and cans."),  # lines joined into paragraphs
        ("Page 2", "Glass goes in the box."),
    ]

    badge = pages["badge.docx"]
    assert (badge.title, badge.locale) == ("Blue badge guide", "en-GB")
    assert [(s.heading, s.text) for s in badge.sections] == [
        ("", "Blue badges help disabled people park near where they need to go."),
        ("Apply", "You can apply online or by post."),
        (
            "Apply > Who can apply",
            "- people who get the higher rate mobility component\n"
            "- people who are registered blind",
        ),
        ("Apply > Costs", "Nation: England; Fee: £10\nNation: Wales; Fee: free"),
    ]


def test_pdf_title_and_language_come_from_its_metadata(tmp_path: Path, settings: Settings) -> None:
    data = make_pdf([["Mae'r llyfrgell ar agor o naw tan bump."]], title="Oriau agor", lang="cy")
    assert PdfReader(io.BytesIO(data)).metadata.title == "Oriau agor"
    (tmp_path / "hours.pdf").write_bytes(data)
    pages, _ = pages_and_problems(tmp_path / "hours.pdf", settings)
    assert pages["hours.pdf"].title == "Oriau agor"
    assert pages["hours.pdf"].locale == "cy"  # the catalogue's /Lang
    assert pages["hours.pdf"].url == "file:hours.pdf"


def test_files_without_an_address_use_the_base_url_setting(tmp_path: Path) -> None:
    (tmp_path / "a b.md").write_text("# Parking permits\n\nApply online.\n")
    settings = make_settings("sqlite://", assistant_base_url="https://council.example/guides/")
    pages, _ = pages_and_problems(tmp_path, settings)
    assert pages["a b.md"].url == "https://council.example/guides/a%20b.md"
    assert pages["a b.md"].title == "Parking permits"


def test_bad_files_are_reported_by_name_and_the_rest_still_read(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", assistant_max_file_bytes=20_000)
    (tmp_path / "good.html").write_text("<h1>Good</h1><p>Fine text.</p>")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    (tmp_path / "junk.html").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "huge.md").write_text("# Big\n\n" + "word " * 5000)
    (tmp_path / "corrupt.docx").write_bytes(b"PK\x03\x04 not a zip at all")
    (tmp_path / "empty.html").write_text("<html><body><nav>Only navigation</nav></body></html>")
    (tmp_path / "front.md").write_text("---\ntitle: [unclosed\n---\nBody\n")
    (tmp_path / "deep.htm").write_text("<div>" * 1500 + "deep" + "</div>" * 1500)
    pages, problems = pages_and_problems(tmp_path, settings)
    assert list(pages) == ["good.html"]
    reasons = {p.name: p.reason for p in problems}
    assert set(reasons) == {
        "broken.pdf",
        "junk.html",
        "huge.md",
        "corrupt.docx",
        "empty.html",
        "front.md",
        "deep.htm",
    }
    assert "not a readable PDF" in reasons["broken.pdf"]
    assert "binary" in reasons["junk.html"]
    assert (
        "over the limit" in reasons["huge.md"] and "assistant_max_file_bytes" in reasons["huge.md"]
    )
    assert "Word document" in reasons["corrupt.docx"]
    assert "no text" in reasons["empty.html"]
    assert "front matter" in reasons["front.md"]
    assert "nested too deeply" in reasons["deep.htm"]
    # The address each bad file would have had is kept, so its previous version is not removed.
    assert {p.url for p in problems} == {f"file:{name}" for name in reasons}


def test_json_lines_bad_lines_are_reported_by_line_number(
    tmp_path: Path, settings: Settings
) -> None:
    good = {
        "url": "https://www.gov.uk/bins",
        "title": "Bins",
        "body_html": "<h2>Collections</h2><p>Weekly.</p>",
        "locale": "cy",
        "public_updated_at": "2016-01-17T14:19:42.460Z",
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"url": "https://www.gov.uk/x", "body_html": "<p>x</p>"}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({**good, "url": "https://www.gov.uk/dates", "public_updated_at": "last week"}),
    ]
    (tmp_path / "pages.jsonl").write_text("\n".join(lines) + "\n")
    assert count(str(tmp_path / "pages.jsonl")) == 5
    pages, problems = pages_and_problems(tmp_path / "pages.jsonl", settings)
    page = pages["pages.jsonl:1"]
    assert (page.url, page.title, page.locale) == ("https://www.gov.uk/bins", "Bins", "cy")
    assert page.public_updated_at == dt.datetime(2016, 1, 17, 14, 19, 42, 460000, tzinfo=dt.UTC)
    assert [(p.name, p.reason.split(" (")[0]) for p in problems] == [
        ("pages.jsonl:2", "not valid JSON"),
        ("pages.jsonl:3", "missing required field `title`"),
        ("pages.jsonl:5", "not a JSON object"),
        ("pages.jsonl:6", "`public_updated_at` is not a date"),
    ]
    # Where a bad line's address is known, its last good version is kept.
    assert [p.url for p in problems] == [None, None, None, "https://www.gov.uk/dates"]


def test_a_missing_source_or_unsupported_file_fails_as_a_whole(
    tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        list(read(str(tmp_path / "nowhere"), settings))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="not a file type"):
        list(read(str(tmp_path / "notes.txt"), settings))


def test_sources_are_normalised_so_a_re_ingest_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    assert normalise_source("docs") == normalise_source(str(tmp_path / "docs" / ".." / "docs"))
    assert normalise_source("HTTPS://Council.Example:443") == "https://council.example/"
    assert normalise_source("http://council.example:8080/a#top") == "http://council.example:8080/a"
