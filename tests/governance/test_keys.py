"""Pseudonymisation keys come from settings, rotate, and are required in production."""

from __future__ import annotations

import pytest

from townhall.core.errors import InvalidInput
from townhall.governance.keys import DERIVED_KEY_ID, keyring, pseudonymiser
from townhall.settings import Settings

SECRET = "s" * 40


def test_keys_from_settings_and_rotation() -> None:
    old = Settings(
        secret_key=SECRET, pseudonym_keys={"k2025": "a" * 32}, pseudonym_current_key="k2025"
    )
    rotated = Settings(
        secret_key=SECRET,
        pseudonym_keys={"k2025": "a" * 32, "k2026": "b" * 32},
        pseudonym_current_key="k2026",
    )
    before = pseudonymiser(old).token("AB123456C")
    after = pseudonymiser(rotated)
    assert after.token("AB123456C", key_id="k2025") == before  # old key kept for look-ups
    assert after.token("AB123456C") != before and "k2026" in after.token("AB123456C")
    assert keyring(rotated).current == "k2026"


def test_production_without_keys_is_refused_and_demo_derives_one() -> None:
    with pytest.raises(InvalidInput, match="TOWNHALL_PSEUDONYM_KEYS"):
        keyring(Settings(secret_key=SECRET))
    demo = keyring(Settings(secret_key=SECRET, environment="test"))
    assert demo.current == DERIVED_KEY_ID
    with pytest.raises(InvalidInput, match="must name one of the keys"):
        keyring(
            Settings(secret_key=SECRET, pseudonym_keys={"a": "x" * 20}, pseudonym_current_key="b")
        )
    with pytest.raises(InvalidInput, match="not usable"):
        keyring(
            Settings(secret_key=SECRET, pseudonym_keys={"a": "short"}, pseudonym_current_key="a")
        )
