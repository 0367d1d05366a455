"""The checks around an answer: what may go in (input) and what may come out (output).

Input: a length cap, Unicode NFKC, invisible and control characters removed, prompt-injection
heuristics (see injection.py) and PII redaction; only the redacted text goes any further.
Output: each sentence grounded in the passage it cites, no leaked instructions, system prompt
or canary, no sentence addressed to an AI, and links only to pages the assistant has ingested.

The canary is a random token made once per process. A generative composer puts it in every
prompt it sends; if it ever appears in a reply, the model has echoed its instructions.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from townhall.services.assistant import grounding, injection
from townhall.services.assistant.composer import Draft
from townhall.services.assistant.passages import Passage
from townhall.services.assistant.sentences import words

EMPTY = "empty"
TOO_LONG = "too_long"
INJECTION = "injection"

_CANARY = "TH-CANARY-" + secrets.token_hex(8).upper()

# Characters a reader cannot see: Unicode format characters (zero-width spaces and joiners,
# bidirectional controls, tag characters U+E0000-E007F, the BOM, soft hyphens), variation
# selectors, Hangul fillers and the combining grapheme joiner.
_INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0]
)
_LINK = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'()\[\]]+|(?<![@\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*"
                   r"\.(?:uk|com|org|net|io|info|gov|ly|co|me|xyz|ru|cn)(?:/[^\s<>\"'()]*)?\b",
                   re.I)  # fmt: skip


def canary() -> str:
    """This process's canary token; a generative composer must include it in every prompt."""
    return _CANARY


def _invisible(ch: str) -> bool:
    code = ord(ch)
    if code in _INVISIBLE_EXTRA or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True
    return unicodedata.category(ch) in {"Cf", "Co", "Cn", "Cs"}


def clean(text: str) -> tuple[str, int]:
    """NFKC text with invisible characters removed and control characters (other than new
    lines and tabs) turned into spaces; returns the text and how many characters were dropped."""
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    dropped = 0
    for ch in text:
        if _invisible(ch):
            dropped += 1
        elif unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            dropped += 1
            out.append(" ")
        else:
            out.append(ch)
    cleaned = re.sub(r"[ \t]+", " ", "".join(out))
    return re.sub(r"\n\s*\n+", "\n", cleaned).strip(), dropped


@dataclass(frozen=True)
class InputVerdict:
    passed: bool
    reason: str  # "" when passed, else "empty", "too_long" or "injection"
    text: str  # cleaned and redacted: the only form of the question used from here on
    categories: tuple[str, ...] = ()  # injection categories matched
    pii: tuple[str, ...] = ()  # kinds of personal data redacted
    invisible: int = 0  # invisible or control characters removed
    detail: str = ""


def check_input(
    question: str,
    max_chars: int,
    redact: Callable[[str], str] | None = None,
    detect: Callable[[str], list] | None = None,
) -> InputVerdict:
    """Clean, screen and redact a citizen's question.

    The raw text is never returned: on every path `text` is cleaned and redacted (or empty).
    """
    if redact is None or detect is None:
        from townhall.governance import privacy

        redact, detect = redact or privacy.redact, detect or privacy.detect
    if not isinstance(question, str):
        return InputVerdict(False, EMPTY, "", detail="the question is not text")
    if len(question) > max_chars * 4:
        # Far over the cap: refuse before spending time on normalisation or PII detection.
        return InputVerdict(
            False, TOO_LONG, "", detail=f"{len(question)} characters; the limit is {max_chars}"
        )
    hidden = injection.tag_text(question)
    cleaned, dropped = clean(question)
    if not cleaned or not any(ch.isalnum() for ch in cleaned):
        return InputVerdict(False, EMPTY, "", invisible=dropped, detail="no words in the question")
    if len(cleaned) > max_chars:
        return InputVerdict(
            False,
            TOO_LONG,
            redact(cleaned[:max_chars]),
            invisible=dropped,
            detail=f"{len(cleaned)} characters; the limit is {max_chars}",
        )
    found = injection.categories(cleaned + ("\n" + hidden if hidden else ""))
    if hidden and len(words(hidden)) >= 1:
        found.add(injection.ENCODED_PAYLOAD)
    redacted = redact(cleaned)
    pii = tuple(sorted({f.entity for f in detect(cleaned)})) if redacted != cleaned else ()
    if found:
        return InputVerdict(
            False,
            INJECTION,
            redacted,
            tuple(sorted(found)),
            pii,
            dropped,
            "prompt-injection patterns: " + ", ".join(sorted(found)),
        )
    detail = "ok"
    if pii:
        detail = "redacted " + ", ".join(pii)
    return InputVerdict(True, "", redacted, (), pii, dropped, detail)


# --- output ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentenceCheck:
    index: int
    passed: bool
    problems: tuple[str, ...]  # "ungrounded", "bad_citation", "addressed_to_ai", "leak", "link"
    support: grounding.Support | None = None


@dataclass(frozen=True)
class OutputVerdict:
    passed: bool
    sentences: tuple[SentenceCheck, ...]
    problems: tuple[str, ...] = ()  # the distinct problems found, in a stable order
    links: tuple[str, ...] = field(default=())  # links found that are not ingested pages

    @property
    def failed(self) -> list[int]:
        return [s.index for s in self.sentences if not s.passed]


def links(text: str) -> list[str]:
    """Web addresses in `text` (full URLs and bare domains, not e-mail addresses)."""
    return [m.group(0).rstrip(".,;:!?") for m in _LINK.finditer(text)]


def _canonical(url: str) -> str:
    url = url.casefold().split("#", 1)[0].split("?", 1)[0].rstrip("/")
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", url)


class Links:
    """The addresses an answer may link to: the ingested pages, and the bare sites they are on
    ("GOV.UK" in a sentence names a site; it does not send anyone to an unknown page)."""

    def __init__(self, urls: Collection[str]) -> None:
        self.pages = {_canonical(u) for u in urls}
        self.sites = {p.split("/", 1)[0] for p in self.pages}

    def allowed(self, url: str) -> bool:
        wanted = _canonical(url)
        return wanted in self.pages or ("/" not in wanted and wanted in self.sites)

    def outside(self, text: str) -> list[str]:
        return [u for u in links(text) if not self.allowed(u)]


def link_allowed(url: str, allowed: Collection[str]) -> bool:
    """A link is allowed when it is an ingested page (or the bare site of one)."""
    return Links(allowed).allowed(url)


def leaks(text: str, prompts: Sequence[str] = (), shingle: int = 8) -> bool:
    """Does `text` contain the canary, or a run of `shingle` words from one of `prompts`?"""
    if _CANARY.casefold() in text.casefold() or "th-canary-" in text.casefold():
        return True
    said = words(text)
    grams = {tuple(said[i : i + shingle]) for i in range(len(said) - shingle + 1)}
    for prompt in prompts:
        told = words(prompt)
        if any(tuple(told[i : i + shingle]) in grams for i in range(len(told) - shingle + 1)):
            return True
    return False


def check_output(
    draft: Draft,
    passages: Sequence[Passage],
    allowed_urls: Collection[str] | Links,
    prompts: Sequence[str] = (),
    min_overlap: float = grounding.MIN_OVERLAP,
    min_similarity: float = grounding.MIN_SIMILARITY,
) -> OutputVerdict:
    """Every sentence of `draft` checked against the passage it cites and the safety rules."""
    supports = grounding.check(draft.sentences, passages, min_overlap, min_similarity)
    allowed = allowed_urls if isinstance(allowed_urls, Links) else Links(allowed_urls)
    checks: list[SentenceCheck] = []
    bad_links: list[str] = []
    for i, (sentence, support) in enumerate(zip(draft.sentences, supports, strict=True)):
        problems: list[str] = []
        if not 0 <= sentence.source < len(passages):
            problems.append("bad_citation")
        elif support is None or not support.supported:
            problems.append("ungrounded")
        if injection.addressed_to_ai(sentence.text):
            problems.append("addressed_to_ai")
        if leaks(sentence.text, prompts):
            problems.append("leak")
        outside = allowed.outside(sentence.text)
        if outside:
            problems.append("link")
            bad_links.extend(outside)
        checks.append(SentenceCheck(i, not problems, tuple(problems), support))
    if not any("leak" in c.problems for c in checks) and leaks(draft.text, prompts):
        # A leak split across sentences: none of them can be trusted.
        checks = [SentenceCheck(c.index, False, (*c.problems, "leak"), c.support) for c in checks]
    order = ["bad_citation", "ungrounded", "addressed_to_ai", "leak", "link"]
    found = {p for c in checks for p in c.problems}
    return OutputVerdict(
        passed=bool(checks) and not found,
        sentences=tuple(checks),
        problems=tuple(p for p in order if p in found) + (() if checks else ("empty",)),
        links=tuple(dict.fromkeys(bad_links)),
    )
