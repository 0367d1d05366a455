"""The managed pseudonymisation keys, from settings.

Production needs ``TOWNHALL_PSEUDONYM_KEYS`` (JSON: key id -> secret) and
``TOWNHALL_PSEUDONYM_CURRENT_KEY``. The demo and tests derive one key from the secret key, so they
run with no set-up; that key is never used in production, because rotating the session secret
would then change every pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac

from townhall.core.errors import InvalidInput
from townhall.governance.privacy import KeyRing, Pseudonymiser
from townhall.settings import Settings

DERIVED_KEY_ID = "derived"


def keyring(settings: Settings) -> KeyRing:
    if settings.pseudonym_keys:
        current = settings.pseudonym_current_key
        if current not in settings.pseudonym_keys:
            raise InvalidInput(
                f"TOWNHALL_PSEUDONYM_CURRENT_KEY must name one of the keys "
                f"({', '.join(sorted(settings.pseudonym_keys))}), not {current!r}."
            )
        try:
            return KeyRing(
                {k: v.get_secret_value().encode() for k, v in settings.pseudonym_keys.items()},
                current,
            )
        except ValueError as exc:
            raise InvalidInput(f"The pseudonymisation keys are not usable: {exc}.") from None
    if settings.demo_mode or settings.environment in ("test", "development"):
        secret = hmac.new(
            settings.secret_key.encode(), b"townhall pseudonym key", hashlib.sha256
        ).digest()
        return KeyRing({DERIVED_KEY_ID: secret}, DERIVED_KEY_ID)
    raise InvalidInput(
        "Set TOWNHALL_PSEUDONYM_KEYS (JSON: key id -> secret of 16+ characters) and "
        "TOWNHALL_PSEUDONYM_CURRENT_KEY before pseudonymising in production."
    )


def pseudonymiser(settings: Settings) -> Pseudonymiser:
    return Pseudonymiser(keyring(settings))
