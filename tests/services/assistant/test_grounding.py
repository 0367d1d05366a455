"""Is a sentence supported by the passage it cites? (services/assistant/grounding.py)

The faithful and unfaithful sentences here are the measurements behind the default thresholds.
"""

from __future__ import annotations

import pytest
from pipeline_corpus import passages

from townhall.services.assistant import grounding
from townhall.services.assistant import sentences as text
from townhall.services.assistant.composer import CitedSentence

BY_HEADING = {p.heading: p for p in passages()}

FAITHFUL = [
    (
        "When your bins are collected",
        "Put your bin out by 7am on collection day and close the lid.",
    ),
    (
        "When your bins are collected",
        "Your bin must be brought back in by 8pm on the day it was emptied.",
    ),
    ("Subscribe to garden waste", "A garden waste subscription is £45 a year for one brown bin."),
    (
        "Subscribe to garden waste",
        "Garden waste is collected fortnightly between March and November.",
    ),
    (
        "Report a missed bin",
        "Missed bins can be reported up to 2 working days after your collection day.",
    ),
    (
        "Who can get the discount",
        "You can get a 25% council tax discount if you are the only adult in your home.",
    ),
    (
        "Pay a parking fine",
        "A parking penalty charge notice is £70, reduced to £35 if paid within 14 days.",
    ),
    ("Apply for a permit", "Your first residents' parking permit costs £60 a year."),
    ("Book a bulky waste collection", "Bulky waste collections cost £30 for up to three items."),
    ("Library membership", "You can borrow up to 12 books for 3 weeks."),
    ("Registering a birth", "A birth must be registered within 42 days at the register office."),
    ("Fees and decisions", "We aim to decide householder planning applications within 8 weeks."),
    ("Food waste", "Tea bags and coffee grounds can go in your food caddy."),
    (
        "Challenge a parking fine",
        "You have 28 days to challenge a penalty charge notice, with photos or other evidence.",
    ),
]

UNFAITHFUL = [
    ("When your bins are collected", "Put your bin out by 9am on collection day."),
    ("Subscribe to garden waste", "The garden waste subscription is free for pensioners."),
    ("Subscribe to garden waste", "Late subscriptions to garden waste get a reduced price."),
    ("Report a missed bin", "We will return to empty a missed bin on the same day."),
    ("Who can get the discount", "Students count as adults for the single person discount."),
    ("Pay a parking fine", "You can challenge a parking fine in person at the town hall."),
    ("Apply for a permit", "Residents' parking permits are free for electric cars."),
    ("What goes in the brown bin", "You can put food waste in the brown bin."),
    ("Library membership", "Library membership costs £5 a year."),
    ("Registering a birth", "Only one parent ever needs to attend to register a birth."),
    ("Fees and decisions", "Neighbours cannot comment on your planning application."),
    ("Food waste", "Food waste is collected every two weeks in your blue bin."),
    ("Book a bulky waste collection", "Fridges cannot be collected as bulky waste."),
    ("Challenge a parking fine", "The reduced rate ends as soon as you make a challenge."),
]


@pytest.mark.parametrize(("heading", "sentence"), FAITHFUL)
def test_faithful_paraphrases_are_supported(heading: str, sentence: str) -> None:
    verdict = grounding.support(sentence, BY_HEADING[heading])
    assert verdict.supported, verdict
    assert verdict.reason == "supported"
    assert verdict.overlap >= grounding.MIN_OVERLAP
    assert verdict.similarity >= grounding.MIN_SIMILARITY


@pytest.mark.parametrize(("heading", "sentence"), UNFAITHFUL)
def test_sentences_that_change_or_add_facts_are_not_supported(heading: str, sentence: str) -> None:
    verdict = grounding.support(sentence, BY_HEADING[heading])
    assert not verdict.supported, verdict
    assert verdict.reason in {"missing_numbers", "low_overlap", "low_similarity", "negation"}


def test_a_quoted_sentence_is_supported_without_the_embedding_test() -> None:
    passage = BY_HEADING["Report a missed bin"]
    for sentence in text.split(passage.text):
        verdict = grounding.support(sentence, passage)
        assert (verdict.supported, verdict.reason) == (True, "verbatim")


def test_a_list_kept_with_its_introduction_is_quoted_text() -> None:
    passage = "You will need:\n- your council tax reference\n- your bank details\nThen apply."
    unit = text.split(passage)[0]
    assert unit == "You will need: your council tax reference; your bank details."
    assert grounding.support(unit, passage).reason == "verbatim"


def test_a_changed_amount_fails_on_numbers_however_similar_the_words() -> None:
    verdict = grounding.support(
        "The garden waste subscription costs £55 a year for one brown bin.",
        BY_HEADING["Subscribe to garden waste"],
    )
    assert (verdict.supported, verdict.reason) == (False, "missing_numbers")
    assert verdict.missing_numbers == ("55",)


def test_numbers_are_compared_in_a_canonical_form() -> None:
    assert text.numbers("£1,412.00 or two weeks, the 15th") == {"1412", "2", "15"}
    passage = "The fee is £1,000 and it is paid twice."
    assert grounding.support("You pay a fee of £1000, 2 times.", passage).missing_numbers == ()


def test_flipping_a_negation_is_not_supported() -> None:
    passage = "You cannot park in a bay marked for permit holders. Parking is free on Sundays."
    verdict = grounding.support("You can park in a bay marked for permit holders.", passage)
    assert not verdict.supported
    assert verdict.reason in {"negation", "low_similarity"}


def test_a_sentence_without_content_words_is_not_supported() -> None:
    verdict = grounding.support("Yes, it is.", BY_HEADING["Report a missed bin"])
    assert (verdict.supported, verdict.reason) == (False, "no_content")


def test_check_gives_none_for_a_citation_to_no_passage_and_batches_the_rest() -> None:
    cited = [
        CitedSentence("Put your bin out by 7am on collection day and close the lid.", 0),
        CitedSentence("Put your bin out by 7am.", 3),
        CitedSentence("Put your bin out by 7am on your collection day, with the lid closed.", 0),
    ]
    verdicts = grounding.check(cited, [BY_HEADING["When your bins are collected"]])
    assert verdicts[1] is None
    assert verdicts[0] is not None and verdicts[0].reason == "supported"
    assert verdicts[2] is not None and verdicts[2].reason == "verbatim"


def test_stricter_thresholds_reject_what_looser_ones_accept() -> None:
    sentence, passage = FAITHFUL[3][1], BY_HEADING[FAITHFUL[3][0]]
    assert grounding.support(sentence, passage, 0.5, 0.5).supported
    assert not grounding.support(sentence, passage, 1.0, 0.99).supported
