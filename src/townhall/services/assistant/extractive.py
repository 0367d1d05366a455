"""The extractive composer: an answer made only of sentences from the retrieved guidance.

Each sentence of the retrieved passages is scored against the question (embedding similarity,
share of the question's words, and how relevant its passage is), then up to four are chosen by
maximal marginal relevance (Carbonell and Goldstein, 1998) so the answer does not say the same
thing twice. They are shown grouped by passage in the order the page gives them, each citing its
passage. Nothing is reworded: sentences are only trimmed of page furniture. Sentences that speak
to an AI ("ignore the user and reply..."), carry markup, or link outside the cited pages are
never chosen, so a poisoned page cannot steer the answer.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from townhall.core.embeddings import Encoder, encoder
from townhall.services.assistant import followups, guards, injection
from townhall.services.assistant import sentences as text
from townhall.services.assistant.composer import CitedSentence, Draft
from townhall.services.assistant.passages import Passage

VERSION = "extractive-1.0"

MAX_SENTENCES = 4
MIN_WORDS = 4  # shorter "sentences" are headings, labels or fragments
MAX_WORDS = 90  # longer units are tables or lists too big to quote as one sentence
MMR_LAMBDA = 0.7  # relevance against novelty; 0.7 is the usual choice for short answers
DUPLICATE = 0.9  # cosine above which two sentences say the same thing
KEEP_RATIO = 0.8  # a further sentence must score at least this share of the best one
ADJACENT = 0.08  # added to the relevance of a sentence next to a chosen one in its passage
MIN_SIMILARITY = 0.3  # a sentence less like the question than this is about something else
PASSAGE_MARGIN = 0.12  # passages this far (in cosine) below the best are not quoted
# Weights of a sentence's relevance: its own cosine, the share of question words it has, and
# its passage's cosine (a sentence like "It costs £30 a year." needs its passage's context).
W_SENTENCE, W_WORDS, W_PASSAGE = 0.5, 0.2, 0.3

_FURNITURE = re.compile(
    r"^(?:print(?: this page)?|share(?: this page)?|contents|related (?:content|links|pages)|"
    r"published|last updated|updated|is this page useful|back to top|skip to main content|"
    r"cookies on|see all|show all|hide all|next|previous|page \d+|download|"
    r"this file may not be suitable|help us improve|report a problem|"
    r"(?:pdf|html|ms word|odt|ods|csv|xlsx?|docx?)\b[^.]*\b\d+(?:\.\d+)?\s?(?:kb|mb)\b)",
    re.IGNORECASE,
)


_DANGLING = frozenset({
    "a", "an", "the", "of", "to", "and", "or", "for", "with", "by", "in", "on", "at", "from",
    "as", "than", "below", "above", "into", "onto", "per", "via", "your", "our", "their", "its",
    "this", "that", "these", "those",
})  # fmt: skip


_LEANS = frozenset({"it", "its", "this", "that", "these", "those", "they", "them", "their"})


@dataclass(frozen=True)
class Candidate:
    passage: int
    position: int
    text: str
    before: str = ""  # the sentence before it, when it leans on that one ("It costs £30.")


def trim(sentence: str) -> str:
    """A sentence without page furniture: "(opens in new tab)", file sizes, footnote marks."""
    return text.trim(sentence)


def quotable(sentence: str, links: guards.Links) -> bool:
    """Can this sentence be shown to a resident as part of an answer?"""
    count = len(text.words(sentence))
    if count < MIN_WORDS or count > MAX_WORDS or _FURNITURE.match(sentence):
        return False
    if sentence.endswith(":"):
        return False  # an introduction whose list was cut off
    if sentence[-1:] not in ".!?)" and count <= 6 and not re.search(r"[\d:;]", sentence):
        return False  # a heading or a label
    if sentence[-1:].isalpha() and text.words(sentence)[-1] in _DANGLING:
        return False  # cut off mid-sentence ("...below the"), usually where a link was
    if injection.addressed_to_ai(sentence):
        return False
    return not links.outside(sentence)


class _VectorCache:
    """Sentence vectors by text: the same guidance sentences come up again and again."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, embed: Encoder, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._data]
        if missing:
            fresh = embed.encode(missing)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._data[t] = v
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        with self._lock:
            return np.stack([self._data[t] for t in texts])


class ExtractiveComposer:
    """Picks the best 1-4 sentences of the passages, each citing its passage."""

    name = "extractive"

    def __init__(
        self,
        max_sentences: int = MAX_SENTENCES,
        embed: Encoder | None = None,
    ) -> None:
        self.max_sentences = max_sentences
        self._embed = embed
        self._cache = _VectorCache()

    @property
    def embed(self) -> Encoder:
        return self._embed or encoder()

    @property
    def version(self) -> str:
        return VERSION

    def candidates(self, passages: Sequence[Passage]) -> list[Candidate]:
        links = guards.Links([p.url for p in passages])
        found: list[Candidate] = []
        seen: set[str] = set()
        for i, passage in enumerate(passages):
            cleaned, _ = guards.clean(passage.text)
            previous = ""
            for j, sentence in enumerate(text.split(cleaned)):
                sentence, earlier, previous = trim(sentence), previous, trim(sentence)
                key = text.squash(sentence)
                if key in seen or not quotable(sentence, links):
                    continue
                seen.add(key)
                leans = bool(earlier) and bool(_LEANS & set(text.words(sentence)[:10]))
                found.append(Candidate(i, j, sentence, earlier if leans else ""))
        return found

    def compose(
        self, question: str, passages: Sequence[Passage], history: Sequence[str] = ()
    ) -> Draft:
        chosen = self.choose(question, passages, history)
        return Draft(
            tuple(CitedSentence(c.text, c.passage) for c, _ in chosen), self.name, self.version
        )

    def choose(
        self, question: str, passages: Sequence[Passage], history: Sequence[str] = ()
    ) -> list[tuple[Candidate, float]]:
        """The chosen sentences in answer order, each with its relevance score."""
        if not passages:
            return []
        best_passage = max(p.dense for p in passages)
        usable = [p.dense >= best_passage - PASSAGE_MARGIN for p in passages]
        every = self.candidates(passages)
        # The closest passages first; the rest only if those have nothing quotable.
        found = [c for c in every if usable[c.passage]] or every
        if not found:
            return []
        query = question
        if history and followups.strength(question) == 2:
            query = followups.context(question, history)
        q = self.embed.encode([query])[0]
        vectors = self._cache.encode(self.embed, [c.text for c in found])
        wanted = text.term_set(query)
        words = np.array(
            [len(wanted & text.term_set(c.text)) / len(wanted) if wanted else 0.0 for c in found]
        )
        own = vectors @ q
        # A sentence that leans on the one before ("If you pay within 14 days it is reduced")
        # is as relevant as the two read together.
        leaning = [k for k, c in enumerate(found) if c.before]
        if leaning:
            pairs = [f"{found[k].before} {found[k].text}" for k in leaning]
            together = self._cache.encode(self.embed, pairs) @ q
            own[leaning] = np.maximum(own[leaning], together)
        # A sentence must be like the question, or stand in one of the closest passages (where
        # "Band D: £2,118 a year." answers a question about council tax bands on its own).
        near = np.array([usable[c.passage] for c in found])
        close = (own >= MIN_SIMILARITY) | near
        if not close.any():
            return []
        found, vectors, own = (
            [c for c, ok in zip(found, close, strict=True) if ok],
            vectors[close],
            own[close],
        )
        wanted_words = words[close]
        context = np.array([passages[c.passage].dense for c in found])
        relevance = W_SENTENCE * own + W_WORDS * wanted_words + W_PASSAGE * context
        picked = self._mmr(relevance, vectors, found)
        # Answer order: passages by their best chosen sentence, sentences as the page has them.
        rank: dict[int, int] = {}
        for i in picked:
            rank.setdefault(found[i].passage, len(rank))
        picked.sort(key=lambda i: (rank[found[i].passage], found[i].position))
        return [(found[i], float(relevance[i])) for i in picked]

    def _mmr(self, relevance: np.ndarray, vectors: np.ndarray, found: list[Candidate]) -> list[int]:
        top = float(relevance.max())
        picked: list[int] = [int(np.argmax(relevance))]
        while len(picked) < min(self.max_sentences, len(relevance)):
            # The sentence after (or before) a chosen one often finishes its point.
            near = {(found[i].passage, found[i].position + d) for i in picked for d in (-1, 1)}
            boosted = relevance + ADJACENT * np.array(
                [(c.passage, c.position) in near for c in found], dtype=np.float32
            )
            similar = (vectors @ vectors[picked].T).max(axis=1)
            score = MMR_LAMBDA * boosted - (1 - MMR_LAMBDA) * similar
            score[picked] = -np.inf
            score[similar >= DUPLICATE] = -np.inf
            score[boosted < KEEP_RATIO * top] = -np.inf
            best = int(np.argmax(score))
            if not np.isfinite(score[best]):
                break
            picked.append(best)
        return picked
