"""Postcodes to local authorities with the real UK postcode register, and where a message is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from townhall.core.errors import InvalidInput
from townhall.services.routing.place import (
    PostcodeRegister,
    authority_names,
    locate,
    normalise_postcode,
    postcodes_in,
)

WILTSHIRE, WESTMINSTER, SWINDON = "E06000054", "E09000033", "E06000030"

pytest_plugins = ("routing_fixtures",)


@pytest.fixture
def register(postcode_index: Path) -> PostcodeRegister:
    return PostcodeRegister(postcode_index)


def test_postcodes_are_formatted_the_way_royal_mail_writes_them() -> None:
    assert normalise_postcode("sw1a1aa") == "SW1A 1AA"
    assert normalise_postcode("  ba14   8jn ") == "BA14 8JN"
    assert normalise_postcode("M1 1AE") == "M1 1AE"
    assert normalise_postcode("gir 0aa") == "GIR 0AA"


@pytest.mark.parametrize("bad", ["hello", "SW1A", "12345", "SW1A 1AAA", "S1 1", "SW1A-1AA"])
def test_a_malformed_postcode_is_refused_with_an_example_of_a_good_one(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_postcode(bad)
    assert "like SW1A 1AA" in caught.value.message
    assert caught.value.details == [{"field": "postcode", "message": caught.value.message[:-1]}]


def test_an_empty_postcode_asks_for_one_or_none() -> None:
    with pytest.raises(InvalidInput, match="Enter a postcode"):
        normalise_postcode("   ")


def test_postcodes_are_found_in_a_message_but_number_plates_are_not() -> None:
    text = "Bin not emptied at sw1a 1aa, car KX19 ABC blocking it; also BA148JN. SW1A 1AA again."
    assert postcodes_in(text) == ["SW1A 1AA", "BA14 8JN"]
    assert postcodes_in("no postcode here, ref AB-123") == []


def test_real_postcodes_are_placed_in_their_local_authority(register: PostcodeRegister) -> None:
    westminster = register.lookup("SW1A 1AA")
    assert westminster is not None and westminster.authority is not None
    assert (westminster.authority.code, westminster.authority.name) == (WESTMINSTER, "Westminster")
    trowbridge = register.lookup("ba14 8jn")
    assert trowbridge is not None and trowbridge.authority is not None
    assert trowbridge.postcode == "BA14 8JN" and trowbridge.authority.code == WILTSHIRE
    swindon = register.lookup("SN1 1HH")  # next door to Wiltshire, but its own council
    assert swindon is not None and swindon.authority is not None
    assert (swindon.authority.code, swindon.authority.name) == (SWINDON, "Swindon")
    edinburgh = register.lookup("EH1 1YZ")
    assert edinburgh is not None and edinburgh.authority is not None
    assert edinburgh.authority.name == "City of Edinburgh"


def test_a_postcode_not_in_the_register_is_none_and_one_without_a_council_has_no_authority(
    register: PostcodeRegister,
) -> None:
    assert register.lookup("SW1A 9ZZ") is None
    girobank = register.lookup("GIR 0AA")
    assert girobank is not None and girobank.authority is None


def test_the_index_holds_only_the_letters_looked_up_and_survives_a_new_process(
    tmp_path: Path,
) -> None:
    index = tmp_path / "postcodes.sqlite"
    assert PostcodeRegister(index).lookup("EH1 1YZ") is not None
    with sqlite3.connect(index) as conn:
        letters = dict(conn.execute("SELECT letter, postcodes FROM letters").fetchall())
        codes = {row[0] for row in conn.execute("SELECT code FROM authorities")}
    assert list(letters) == ["E"] and letters["E"] > 100_000
    assert codes <= set(authority_names()), codes - set(authority_names())
    # Another process: the index is read as it is, the letter is not copied again.
    again = PostcodeRegister(index).lookup("EH1 1YZ")
    assert again is not None and again.authority is not None
    with sqlite3.connect(index) as conn:
        assert conn.execute("SELECT count(*) FROM letters").fetchone() == (1,)


def test_an_index_built_from_another_release_of_the_register_is_rebuilt(tmp_path: Path) -> None:
    index = tmp_path / "postcodes.sqlite"
    PostcodeRegister(index).lookup("EH1 1YZ")
    with sqlite3.connect(index) as conn:
        conn.execute("UPDATE meta SET value = '2020.1' WHERE key = 'source'")
        conn.execute("UPDATE authorities SET code = 'old-' || code")  # stale data
    found = PostcodeRegister(index).lookup("EH1 1YZ")
    assert found is not None and found.authority is not None
    assert found.authority.code == "S12000036"


def test_every_district_in_the_names_file_has_a_name() -> None:
    names = authority_names()
    assert len(names) == 363 and names[WILTSHIRE] == "Wiltshire"
    assert all(name.strip() for name in names.values())


def test_a_given_postcode_wins_and_must_be_in_the_register(register: PostcodeRegister) -> None:
    text = "My mum at SW1A 1AA has not had her bin emptied"
    given = locate(text, postcode="BA14 8JN", register=register, ours={WILTSHIRE})
    assert given is not None and given.postcode == "BA14 8JN"
    with pytest.raises(InvalidInput, match="SW1A 9ZZ is not in the UK postcode register"):
        locate(text, postcode="sw1a9zz", register=register, ours={WILTSHIRE})


def test_a_message_naming_our_area_and_another_is_ours(register: PostcodeRegister) -> None:
    text = "I moved from SW1A 1AA to BA14 8JN, please update my council tax"
    found = locate(text, postcode=None, register=register, ours={WILTSHIRE})
    assert found is not None and found.postcode == "BA14 8JN"
    elsewhere = locate("Bins at SW1A 1AA", postcode=None, register=register, ours={WILTSHIRE})
    assert elsewhere is not None and elsewhere.authority is not None
    assert elsewhere.authority.code == WESTMINSTER
    assert locate("bins at SW1A 9ZZ", postcode=None, register=register, ours={WILTSHIRE}) is None
