"""Plain-text helpers shared by the answer pipeline: sentences, content words and numbers.

Content words are lower-cased, stop-word-free Snowball stems, so "collections" and "collected"
meet. Numbers are normalised ("£1,000.00" -> "1000", "two" -> "2") because a sentence that changes
an amount, a date or a deadline is not supported by its passage, however similar its words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common English function words and question words: they say nothing about the topic.
STOPWORDS = _words(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else etc even ever every few for from further get
    gets getting got had hadn't has hasn't have haven't having he her here hers herself him himself
    his how i i'd i'll i'm i've if in into is isn't it it's its itself just let let's like ll made
    make many may me might more most much must mustn't my myself need needs no nor not now of off
    often on once one only or other ought our ours ourselves out over own per please re really
    same shall shan't she should shouldn't so some still such than that that's the their theirs
    them themselves then there there's these they they'd they'll they're they've this those
    though through thus to too under until up upon us use used using very via want was wasn't we
    we'd we'll we're we've well were weren't what what's when where where's whether which while
    who who's whom whose why will with within without won't would wouldn't yes yet you you'd
    you'll you're you've your yours yourself yourselves"""
    # Words any question may carry whatever it is about: they must not count as its topic.
    """ able actually advice anyone anything ask asking basically details exactly find forget
    guidance guide happen happened happens hello help hi information instruction instructions
    kind know look looking lot mean means please possible procedure process question questions
    rule rules say show someone something sort step steps tell thank thanks thing things
    wondering"""
)

NEGATIONS = _words(
    "not no never none nobody nothing neither nor cannot can't don't doesn't didn't isn't aren't "
    "wasn't weren't won't wouldn't shouldn't mustn't haven't hasn't hadn't couldn't without "
    "unable"
)

NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "twice": "2",
}  # fmt: skip
# "one", "once", "first" and "second" are left out: as often a pronoun, a conjunction, an order
# or a unit of time as a count.

# Abbreviations whose full stop does not end a sentence.
ABBREVIATIONS = _words(
    """e.g i.e etc approx vs mr mrs ms dr st no nos tel ref fig jan feb mar apr jun jul aug sep
    sept oct nov dec mon tue tues wed thu thur thurs fri sat sun co ltd inc plc dept govt est min
    max incl excl cf al para paras reg regs sec sch art p pp vol ch"""
)

WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?", re.UNICODE)
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:([.:])(\d+))?(?:st|nd|rd|th)?", re.I)
_BOUNDARY = re.compile(
    r"([.!?\u2026]+)([\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]*[A-Z0-9£€$À-Ý])"
)
_TRIM = re.compile(
    r"\s*\((?:opens in (?:a )?new (?:tab|window)|PDF,?[^)]*|MS Word[^)]*|ODT[^)]*|"
    r"external link)\)|\s*\[\d+\]|\s*\u21a9",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•·▪‣◦]|\d{1,2}[.)])\s+")
_SPACE = re.compile(r"\s+")
MAX_LIST_ITEMS = 8  # items kept with their introduction; the rest become sentences of their own


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits), apostrophes normalised."""
    return [w.replace("\u2019", "'") for w in WORD.findall(text.casefold())]


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, repeats kept."""
    kept = [w for w in words(text) if w not in STOPWORDS and not w.isdigit()]
    return list(_stemmer().stemWords(kept)) if kept else []


def term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def numbers(text: str) -> frozenset[str]:
    """Every number in `text` in a canonical form: digits without separators, words as digits."""
    found: set[str] = set()
    for match in NUMBER.finditer(text):
        whole, sep, frac = match.group(1).replace(",", ""), match.group(2), match.group(3)
        whole = whole.lstrip("0") or "0"
        if sep == "." and frac and set(frac) == {"0"}:
            found.add(whole)  # £25.00 is £25
        elif sep:
            found.add(f"{whole}{sep}{frac}")
        else:
            found.add(whole)
    for word in words(text):
        if word in NUMBER_WORDS:
            found.add(NUMBER_WORDS[word])
    return frozenset(found)


def negated(text: str) -> bool:
    return any(w in NEGATIONS or w.endswith("n't") for w in words(text))


def squash(text: str) -> str:
    """Text for verbatim comparison: NFKC, case-folded, one space between words, no end dot."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return _SPACE.sub(" ", text).strip().rstrip(".;:!?").strip()


def _ends_sentence(text: str, dot_at: int) -> bool:
    """Is the full stop at `dot_at` the end of a sentence rather than of an abbreviation?"""
    before = text[:dot_at].rsplit(None, 1)
    token = before[-1].casefold().lstrip("(\"'\u201c\u2018") if before else ""
    if token.rstrip(".") in ABBREVIATIONS:
        return False
    return not (len(token) == 1 and token.isalpha())  # an initial: "J. Smith"


def split_line(line: str) -> list[str]:
    """One line of prose into sentences."""
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(line):
        if match.group(1) == "." and not _ends_sentence(line, match.start(1)):
            continue
        pieces.append(line[start : match.end(2)].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return [p for p in pieces if p]


def _visible(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def trim(text: str) -> str:
    """Text without page furniture: "(opens in new tab)", file sizes, footnote marks."""
    return _TRIM.sub("", text).strip()


def contains_run(passage: str, sentence: str) -> bool:
    """Do the sentence's words occur, in order and together, in the passage (punctuation, list
    markers and page furniture aside)? True for every sentence the extractive composer quotes."""
    said = words(trim(_visible(sentence)))
    if not said:
        return False
    found = words(trim(_visible(passage)))
    first, n = said[0], len(said)
    return any(
        found[i : i + n] == said for i, w in enumerate(found[: len(found) - n + 1]) if w == first
    )


def is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line))


def unbullet(line: str) -> str:
    return _BULLET.sub("", line, count=1).strip()


def split(text: str) -> list[str]:
    """Sentences of a passage, in order. Lines are never joined: a list item or a table row is
    a unit of its own; a line ending in ":" is kept with its list items ("You need: a; b; c")."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.endswith(":") and i + 1 < len(lines) and is_bullet(lines[i + 1]):
            items: list[str] = []
            j = i + 1
            while j < len(lines) and is_bullet(lines[j]) and len(items) < MAX_LIST_ITEMS:
                items.append(unbullet(lines[j]).rstrip(".;,"))
                j += 1
            intro = split_line(line)
            out.extend(intro[:-1])
            out.append(f"{intro[-1]} {'; '.join(items)}.")
            i = j
            continue
        out.extend(split_line(unbullet(line) if is_bullet(line) else line))
        i += 1
    return out
