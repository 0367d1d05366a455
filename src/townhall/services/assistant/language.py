"""The language a page is written in: the one it declares, else py3langid's guess from its text.

Codes are the primary BCP-47 language subtag ("en", "cy", "ar"), because questions are matched to
pages by that code alone: "en-GB" and "en" must land in the same place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SAMPLE_CHARS = 4000  # langid is accurate well before this; longer text only costs time
MIN_LETTERS = 12  # below this a guess is noise ("Bins" comes out as Serbian)
MIN_CONFIDENCE = 0.5

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def normalise_locale(value: str | None) -> str | None:
    """`en_GB`, `EN-gb`, `en` -> `en`; anything not shaped like a language tag -> None."""
    if value is None:
        return None
    value = value.strip()
    if not _LOCALE.match(value):
        return None
    return re.split(r"[-_]", value)[0].lower()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid import langid

    cls = langid.LanguageIdentifier
    # py3langid 0.3 loads a pickle; 0.4 a model file. Both give normalised probabilities.
    load = getattr(cls, "from_model_file", None) or cls.from_pickled_model
    return load(langid.MODEL_FILE, norm_probs=True)


def detect(text: str, default: str = "en") -> str:
    """The language of `text`, or `default` when there is too little text to tell."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return default
    code, confidence = _identifier().classify(sample)
    if float(confidence) < MIN_CONFIDENCE:
        return default
    return str(code)


def locale_for(declared: str | None, text: str, default: str = "en") -> str:
    """A declared locale wins; otherwise the detected one."""
    return normalise_locale(declared) or detect(text, default)
