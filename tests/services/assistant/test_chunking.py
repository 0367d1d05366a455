"""HTML and Markdown into sections under their heading paths, and sections into small chunks."""

from __future__ import annotations

import datetime as dt

from townhall.services.assistant.chunking import (
    MAX_WORDS,
    Section,
    chunk_html,
    html_sections,
    parse_html,
    split_text,
    word_count,
)
from townhall.services.assistant.formats import front_matter, markdown_html

GOVUK_PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Renew your passport - GOV.UK</title>
<script>window.secretToken = "do-not-index";</script>
<style>.govuk-body { color: red }</style></head>
<body>
<a href="#main-content" class="govuk-skip-link">Skip to main content</a>
<div class="govuk-cookie-banner"><p>Cookies on GOV.UK</p><button>Accept cookies</button></div>
<header class="govuk-header" role="banner"><a href="/">GOV.UK</a><nav>Menu Search</nav></header>
<div class="govuk-width-container">
<div class="govuk-phase-banner">BETA This is a new service</div>
<nav class="govuk-breadcrumbs"><ol><li>Home</li>
<li>Passports, travel and living abroad</li></ol></nav>
<main class="govuk-main-wrapper" id="main-content">
<h1>Renew your passport</h1>
<p>You can renew your passport online.</p>
<h2>Overview</h2>
<p>It costs £75.50 to renew online.</p>
<h3>Who can apply</h3>
<ul><li>adults aged 16 or over</li>
<li>people with a <b>British</b> passport<ul><li>even if it has expired</li></ul></li></ul>
<h3>Fees</h3>
<table><caption>Passport fees</caption>
<thead><tr><th>How you apply</th><th>Fee</th></tr></thead>
<tbody><tr><td>Online</td><td>£75.50</td></tr><tr><td>By post</td><td>£85</td></tr></tbody></table>
<h2>Apply</h2>
<h4>By post</h4>
<p>Get a form from a Post Office.<script>document.write("injected script text")</script></p>
<form><label>Was this page useful?</label><input name="q"><button>Yes</button></form>
</main>
<aside class="gem-c-related-navigation"><h2>Related content</h2><p>Travel abroad</p></aside>
</div>
<footer class="govuk-footer">
<p>All content is available under the Open Government Licence</p></footer>
</body></html>"""


def test_sections_keep_the_heading_path_under_the_page_title() -> None:
    parsed = parse_html(GOVUK_PAGE)
    assert parsed.title == "Renew your passport"
    assert parsed.lang == "en"
    assert [s.heading for s in parsed.sections] == [
        "",
        "Overview",
        "Overview > Who can apply",
        "Overview > Fees",
        "Apply > By post",
    ]
    assert parsed.sections[0].text == "You can renew your passport online."


def test_navigation_banners_forms_and_footers_are_stripped() -> None:
    text = "\n".join(s.heading + "\n" + s.text for s in html_sections(GOVUK_PAGE))
    for chrome in (
        "Skip to main content",
        "Cookies on GOV.UK",
        "Accept cookies",
        "Menu Search",
        "BETA",
        "Passports, travel and living abroad",
        "Was this page useful",
        "Related content",
        "Open Government Licence",
    ):
        assert chrome not in text


def test_script_and_style_content_never_reaches_the_text() -> None:
    text = "\n".join(s.text for s in html_sections(GOVUK_PAGE))
    assert "secretToken" not in text and "do-not-index" not in text
    assert "injected script text" not in text
    assert "color: red" not in text
    assert "Get a form from a Post Office." in text


def test_tables_become_labelled_rows_and_lists_stay_one_item_a_line() -> None:
    sections = {s.heading: s.text for s in html_sections(GOVUK_PAGE)}
    assert sections["Overview > Fees"].splitlines() == [
        "Passport fees",
        "How you apply: Online; Fee: £75.50",
        "How you apply: By post; Fee: £85",
    ]
    assert sections["Overview > Who can apply"].splitlines() == [
        "- adults aged 16 or over",
        "- people with a British passport",
        "- even if it has expired",
    ]


def test_a_fragment_without_headings_is_one_untitled_section() -> None:
    assert html_sections("<p>Bins are collected on <abbr>Mon</abbr>days.</p>") == [
        Section("", "Bins are collected on Mondays.")
    ]


def test_a_second_h1_is_part_of_the_path() -> None:
    html = "<h1>Guide</h1><p>a</p><h1>Annex</h1><h2>Rates</h2><p>b</p>"
    assert [s.heading for s in html_sections(html, title="Guide")] == ["", "Annex > Rates"]


def test_long_sections_split_at_sentences_into_chunks_of_at_most_180_words() -> None:
    sentence = "The council collects recycling from the kerb every other week. "  # 10 words
    paragraph = sentence * 50  # one 500-word paragraph
    html = f"<h2>Recycling</h2><p>{paragraph}</p><p>{sentence * 5}</p>"
    chunks = chunk_html(html)
    assert len(chunks) >= 3
    assert all(c.heading == "Recycling" for c in chunks)
    assert all(word_count(c.text) <= MAX_WORDS for c in chunks)
    assert all(c.text.endswith("week.") for c in chunks)  # cut between sentences, not inside
    assert sum(word_count(c.text) for c in chunks) == 550


def test_a_short_trailing_piece_is_balanced_or_merged_with_the_chunk_before() -> None:
    def sizes(*lines: int) -> list[int]:
        return [word_count(p) for p in split_text("\n".join("word " * n for n in lines))]

    assert sizes(100, 70, 15) == [100, 85]  # a whole line moves back to the short tail
    assert sizes(170, 15) == [185]  # nothing to move: a little over the limit beats a scrap
    assert sizes(175, 30) == [175, 30]  # but never far over it


def test_a_sentence_longer_than_a_chunk_is_cut_into_word_windows() -> None:
    pieces = split_text("word " * 400)
    assert [word_count(p) for p in pieces] == [180, 180, 40]


def test_markdown_front_matter_is_read_and_the_body_rendered() -> None:
    meta, body = front_matter(
        "---\nurl: https://council.example/bins\ntitle: Bin collections\nteam: waste\n"
        "locale: en-GB\nupdated: 2024-03-31\n---\n# Bin collections\n\n## Missed bins\n\n"
        "Report a missed bin within **two** working days.\n\n| Bin | Day |\n|---|---|\n"
        "| Green | Monday |\n"
    )
    assert meta == {
        "url": "https://council.example/bins",
        "title": "Bin collections",
        "team": "waste",
        "locale": "en-GB",
        "updated": dt.date(2024, 3, 31),
    }
    sections = html_sections(markdown_html(body), title=meta["title"])
    assert sections == [
        Section(
            "Missed bins", "Report a missed bin within two working days.\nBin: Green; Day: Monday"
        )
    ]


def test_markdown_without_front_matter_is_all_body() -> None:
    assert front_matter("# Title\n\n---\n\ntext") == ({}, "# Title\n\n---\n\ntext")


def test_raw_html_script_inside_markdown_is_stripped() -> None:
    html = markdown_html("## Help\n\n<script>alert('x')</script>\n\nCall us.\n")
    assert html_sections(html) == [Section("Help", "Call us.")]
