"""Exact and near-duplicate pages: the first is kept, later ones name it."""

from __future__ import annotations

from townhall.services.assistant.dedupe import Deduper, text_hash

WORDS = (
    "Household waste is collected every week and recycling every other week from the kerb "
    "outside your property. Put your bins out by seven in the morning on collection day and "
    "bring them back in the same evening. If your bin was missed, report it within two working "
    "days and we will return to collect it. Garden waste collections need a yearly permit, "
    "which you can buy online or by phone. Bulky items such as sofas and fridges can be "
    "collected for a fee; book a slot at least a week ahead. Clinical waste collections are free "
    "for residents who need them and are arranged through your GP or district nurse. "
)


def test_exact_duplicates_ignore_case_and_spacing() -> None:
    assert text_hash("Bins  are\nCollected") == text_hash("bins are collected")
    dedupe = Deduper()
    assert dedupe.original_of("a", WORDS) is None
    assert dedupe.original_of("b", WORDS.upper().replace(" ", "  ")) == "a"


def test_a_near_duplicate_is_reported_as_a_copy_of_the_first_page() -> None:
    long_text = WORDS + " ".join(
        f"Route {i} is collected on day {i % 5 + 1} by crew {i * 7 % 31}." for i in range(60)
    )
    edited = long_text.replace("seven in the morning", "7am").replace("crew 14.", "crew 15.")
    dedupe = Deduper()
    assert dedupe.original_of("first", long_text) is None
    assert dedupe.original_of("second", edited) == "first"
    assert dedupe.original_of("third", edited + " One more sentence.") == "first"


def test_different_pages_are_not_duplicates() -> None:
    other = (
        "Council tax bands are set by the Valuation Office Agency. You can challenge your band "
        "if you think it is wrong, and you may get a discount if you live alone or are a "
        "student. Pay by direct debit in ten or twelve monthly instalments."
    )
    half = WORDS[: len(WORDS) // 2] + other
    dedupe = Deduper()
    assert dedupe.original_of("bins", WORDS) is None
    assert dedupe.original_of("tax", other) is None
    assert dedupe.original_of("half", half) is None
