"""A page's language: declared wins, else detected from its text."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED_DATA
from townhall.services.assistant.chunking import html_sections
from townhall.services.assistant.language import detect, locale_for, normalise_locale

GOVUK = SHARED_DATA / "govuk" / "pages.jsonl"


def test_welsh_and_english_guidance_are_told_apart() -> None:
    assert detect("Gallwch adnewyddu eich pasbort ar-lein. Mae'n costio £75.50.") == "cy"
    assert detect("You can renew your passport online. It costs £75.50.") == "en"


def test_too_little_text_falls_back_to_the_default() -> None:
    assert detect("Bins", default="en") == "en"
    assert detect("12 34 56", default="cy") == "cy"


def test_a_declared_locale_wins_over_detection() -> None:
    assert locale_for("cy", "This text is plainly written in English, at some length.") == "cy"
    assert locale_for(None, "This text is plainly written in English, at some length.") == "en"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [("en-GB", "en"), ("EN_gb", "en"), ("cy", "cy"), (" ar ", "ar"), ("", None), ("??", None)],
)
def test_locales_are_reduced_to_their_language(declared: str, expected: str | None) -> None:
    assert normalise_locale(declared) == expected


def test_detection_agrees_with_govuk_declared_locales() -> None:
    if not GOVUK.exists():
        pytest.skip(f"the GOV.UK sample is not at {GOVUK}")
    rows = [json.loads(line) for line in GOVUK.read_text().split("\n") if line.strip()]
    checked = 0
    for row in rows:
        if len(row["body_html"]) > 30_000:  # the budgets and reports: slow to parse, nothing new
            continue
        text = "\n".join(s.text for s in html_sections(row["body_html"], row["title"]))
        if "lorem ipsum" in text.lower() or "sed ut perspiciatis" in text.lower():
            assert detect(text) == "la"  # placeholder pages: ingest skips these
            continue
        assert detect(row["title"] + "\n" + text) == row["locale"], row["url"]
        checked += 1
    assert checked >= 90
    assert {"cy", "ar", "ur", "es"} <= {row["locale"] for row in rows}
