"""Follow-up questions: "how much does it cost?" means nothing without the question before it.

A question is a follow-up when it opens like one ("what about...", "and...") or leans on a
pronoun with too few words of its own to say what it is about. Retrieval then searches with the
earlier question(s) in front of it. When the signs are weaker (a pronoun in an otherwise full
question: "is it legal to park on the pavement?") both readings are tried and the pipeline keeps
the one with the stronger evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from townhall.services.assistant.sentences import terms, words

PRONOUNS = frozenset(
    {
        "it", "its", "it's", "that", "those", "these", "this", "they", "them", "their", "theirs",
        "there", "he", "she", "him", "her", "his", "one", "ones", "same", "such",
    }
)  # fmt: skip
_OPENERS = re.compile(
    r"^\s*(?:what about|how about|and|also|what if|same for|same with|what else|anything else|"
    r"but what|but how|then what|how else|and if|plus|or)\b",
    re.IGNORECASE,
)
MAX_CONTEXT = 3  # earlier questions chained in front of a follow-up of a follow-up
SHORT = 2  # content words; a question with this few that leans on a pronoun is a follow-up


def strength(question: str) -> int:
    """0: stands alone; 1: may lean on the conversation; 2: clearly a follow-up."""
    said = words(question)
    if not said:
        return 0
    own = terms(question)
    opens = bool(_OPENERS.match(question))
    leans = any(w in PRONOUNS for w in said)
    if len(own) <= 1 or (opens and len(own) <= SHORT + 2) or (leans and len(own) <= SHORT):
        return 2
    return 1 if leans or opens else 0


def is_follow_up(question: str) -> bool:
    return strength(question) > 0


def context(question: str, history: Sequence[str]) -> str:
    """`question` preceded by the earlier questions it depends on (oldest first)."""
    chain: list[str] = []
    for previous in reversed(history):
        if not previous.strip():
            continue
        chain.insert(0, previous.strip())
        if strength(previous) < 2 or len(chain) >= MAX_CONTEXT:
            break
    return " ".join([*chain, question]) if chain else question


def queries(question: str, history: Sequence[str]) -> list[str]:
    """The retrieval queries worth trying, the preferred first."""
    level = strength(question) if history else 0
    if level == 0:
        return [question]
    joined = context(question, history)
    if joined == question:
        return [question]
    return [joined] if level == 2 else [question, joined]
