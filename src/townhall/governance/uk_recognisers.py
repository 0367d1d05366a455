"""Presidio pattern recognisers for UK identifiers, each with the validation its format allows.

Presidio ships NHS numbers and generic cards/phones/IPs, but nothing for NI numbers, postcodes,
sort codes, DVLA licences, vehicle registrations or UK addresses, and its e-mail recogniser
fetches the public-suffix list over the network. Everything here is offline regex + checksum.

Weak shapes (9 digits for a passport, 8 for an account, a bare date) are only reported when a
context word ("passport", "account", "date of birth"...) appears shortly before them: without
that gate every order number would be an account number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# Upper-case only where lower-case look-alikes are ordinary words (postcodes, registrations).
STRICT = re.DOTALL | re.MULTILINE
LOOSE = STRICT | re.IGNORECASE
CONTEXT_WINDOW = 40  # characters before a match searched for a context word


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_ok(number: str) -> bool:
    nums = [int(d) for d in digits(number)]
    if not 12 <= len(nums) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(nums)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def nhs_ok(number: str) -> bool:
    nums = [int(d) for d in digits(number)]
    if len(nums) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(nums[:9], range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == nums[9]


NI_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def ni_ok(value: str) -> bool:
    norm = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{6}[A-D]", norm):
        return False
    first, second = norm[0], norm[1]
    return norm[:2] not in NI_BAD_PREFIXES and first not in "DFIQUV" and second not in "DFIQUVO"


def licence_ok(value: str) -> bool:
    # DVLA: SSSSS D MM DD Y II C CC; month has 5 added to its tens digit for women.
    norm = re.sub(r"\s", "", value).upper()
    if len(norm) != 16:
        return False
    month, day = int(norm[6:8]), int(norm[8:10])
    if month > 50:
        month -= 50
    return 1 <= month <= 12 and 1 <= day <= 31


def vehicle_ok(value: str) -> bool:
    # Age identifier: March plates 02..29, September plates 51..79 (format began Sept 2001).
    age = int(value[2:4])
    return 2 <= age <= 29 or 51 <= age <= 79


def date_ok(value: str) -> bool:
    parts = re.split(r"[/.\-\s]+", value.strip())
    months = {m: i for i, m in enumerate(MONTHS, start=1)}
    try:
        if len(parts) == 3 and parts[1][:3].lower() in months:
            day, month, year = (
                int(parts[0].rstrip("stndrh")),
                months[parts[1][:3].lower()],
                parts[2],
            )
        else:
            day, month, year = int(parts[0]), int(parts[1]), parts[2]
        full_year = int(year) if len(year) == 4 else 1900 + int(year)
        dt.date(full_year, month, day)
    except (ValueError, IndexError):
        return False
    return True


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class ValidatedRecogniser(PatternRecognizer):
    """A pattern recogniser whose matches pass a Python check (checksum, ranges)."""

    def __init__(
        self,
        entity: str,
        patterns: Sequence[Pattern],
        check: object = None,
        *,
        flags: int = LOOSE,
        required_context: Sequence[str] = (),
    ) -> None:
        super().__init__(
            supported_entity=entity,
            name=f"Uk{entity.title().replace('_', '')}Recogniser",
            patterns=list(patterns),
            context=list(required_context),
            global_regex_flags=flags,
        )
        self._check = check
        self._required = tuple(word.lower() for word in required_context)

    def validate_result(self, pattern_text: str) -> bool | None:
        if self._check is None:
            return None
        # None keeps the pattern's score; False drops the match (Presidio's convention).
        return None if self._check(pattern_text) else False  # type: ignore[operator]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = super().analyze(
            text, entities, nlp_artifacts, regex_flags
        )
        if not self._required:
            return results
        kept = []
        for result in results:
            before = text[max(0, result.start - CONTEXT_WINDOW) : result.start].lower()
            if any(word in before for word in self._required):
                kept.append(result)
        return kept


class TitledNameRecogniser(EntityRecognizer):
    """Names after a salutation, an honorific or "my name is", which the small spaCy model misses.

    The span is the name alone (the cue word is context, not PII), so this needs a capture group,
    which Presidio's Pattern cannot express.
    """

    NAME = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
    CUE = re.compile(
        r"\b(?:Dear|Mr|Mrs|Ms|Miss|Mx|Dr|[Mm]y name is)\.?\s+"
        r"(?!(?:Sir|Madam|Team|Customer|Resident|Colleague|All)\b)"
        rf"({NAME}(?: {NAME}){{0,2}})\b"
    )

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="TitledNameRecogniser")

    def load(self) -> None:
        """Nothing to load: a regular expression."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "PERSON" not in entities:
            return []
        return [
            RecognizerResult("PERSON", m.start(1), m.end(1), 0.8) for m in self.CUE.finditer(text)
        ]


def card_shape(groups: list[int]) -> bool:
    """Cards are printed in one block, in fours (last group shorter), or Amex's 4-6-5."""
    return (
        len(groups) == 1
        or groups in ([4, 6, 5], [4, 6, 4])
        or (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4)
    )


class CardRecogniser(EntityRecognizer):
    """Payment card numbers: 13-19 digits in groups, passing Luhn.

    A single regex would swallow a neighbouring number ("... 5919 4111 1111 1111 1111"), fail
    Luhn on the whole and lose the card; so each run of digit groups is searched for the
    longest window of whole groups that is a valid card.
    """

    RUN = re.compile(r"(?<![\d\-])\d+(?:[ \-]\d+)*(?![\d\-])")
    GROUP = re.compile(r"\d+")

    def __init__(self) -> None:
        super().__init__(supported_entities=["CARD_NUMBER"], name="CardRecogniser")

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "CARD_NUMBER" not in entities:
            return []
        results = []
        for run in self.RUN.finditer(text):
            groups = [
                (m.start() + run.start(), m.end() + run.start())
                for m in self.GROUP.finditer(run.group())
            ]
            i = 0
            while i < len(groups):
                best = None
                for j in range(len(groups) - 1, i - 1, -1):
                    span = text[groups[i][0] : groups[j][1]]
                    shape = [b - a for a, b in groups[i : j + 1]]
                    if card_shape(shape) and 13 <= sum(shape) <= 19 and luhn_ok(span):
                        best = j
                        break
                if best is None:
                    i += 1
                    continue
                results.append(RecognizerResult("CARD_NUMBER", groups[i][0], groups[best][1], 0.9))
                i = best + 1
        return results


ADDRESS_SUFFIXES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Close|Drive|Way|Crescent|Place|Court|Gardens|Terrace|"
    "Grove|Hill|Square|Walk|Row|Mews|Parade|View|Rise"
)
DATE_PATTERN = (
    r"\b(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    r"|\d{1,2}(?:st|nd|rd|th)?\s(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*"
    r"\s\d{4})\b"
)


def uk_recognisers() -> list[EntityRecognizer]:
    """The UK-specific recognisers, with stable upper-case entity names."""
    return [
        TitledNameRecogniser(),
        ValidatedRecogniser(
            "EMAIL_ADDRESS",
            [Pattern("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+\b", 0.9)],
        ),
        # phonenumbers' metadata rejects some allocated mobile ranges (07700 900xxx among them),
        # so UK mobiles are also matched by shape; the GB PhoneRecognizer covers the rest.
        ValidatedRecogniser(
            "PHONE_NUMBER",
            [Pattern("uk mobile", r"(?:\+44 ?7\d{3}|\b07\d{3}) ?\d{3} ?\d{3}\b", 0.6)],
        ),
        ValidatedRecogniser(
            "UK_POSTCODE",
            [
                Pattern(
                    "postcode",
                    r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b",
                    0.7,
                )
            ],
            flags=STRICT,
        ),
        ValidatedRecogniser(
            "NI_NUMBER",
            [Pattern("ni", r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", 0.85)],
            ni_ok,
        ),
        ValidatedRecogniser(
            "NHS_NUMBER",
            [Pattern("nhs", r"\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b", 0.8)],
            nhs_ok,
        ),
        ValidatedRecogniser(
            "UK_PASSPORT",
            [Pattern("passport", r"\b\d{9}\b", 0.85)],
            required_context=("passport",),
        ),
        ValidatedRecogniser(
            "UK_DRIVING_LICENCE",
            [Pattern("dvla", r"\b[A-Z9]{5}\d[0156]\d[0-3]\d\d[A-Z9]{2}\d[A-Z]{2}\b", 0.9)],
            licence_ok,
            flags=STRICT,
        ),
        ValidatedRecogniser(
            "SORT_CODE",
            [Pattern("sort code", r"\b\d{2}[\- ]\d{2}[\- ]\d{2}\b", 0.9)],
            required_context=("sort code", "sort-code", "sortcode"),
        ),
        ValidatedRecogniser(
            "BANK_ACCOUNT",
            [Pattern("account", r"\b\d{8}\b", 0.85)],
            required_context=("account", "acc no", "a/c"),
        ),
        CardRecogniser(),
        ValidatedRecogniser(
            "DATE_OF_BIRTH",
            [Pattern("dob", DATE_PATTERN, 0.85)],
            date_ok,
            required_context=("date of birth", "dob", "d.o.b", "born", "birthday"),
        ),
        ValidatedRecogniser(
            "ADDRESS",
            [
                Pattern(
                    "street address",
                    rf"\b(?:Flat \d{{1,4}}[A-Z]?,? )?\d{{1,4}}[A-Z]? (?:[A-Z][a-z]+ ){{1,3}}"
                    rf"(?:{ADDRESS_SUFFIXES})\b",
                    0.9,  # above spaCy's 0.85 so "12 Albert Close" wins over PERSON "Albert"
                )
            ],
            flags=STRICT,
        ),
        ValidatedRecogniser(
            "VEHICLE_REGISTRATION",
            [Pattern("reg", r"\b[A-HJ-PR-Y][A-HJ-PR-Z]\d{2} ?[A-HJ-PR-Z]{3}\b", 0.8)],
            vehicle_ok,
            flags=STRICT,
        ),
    ]
