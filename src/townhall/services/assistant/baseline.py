"""Plain BM25 (rank_bm25's Okapi BM25, no stemming, no stop words, no embeddings) over passages.

The floor the hybrid index must beat, measured over the same chunks with the same indexed text
(`passages.search_text`). rank_bm25 is a development dependency: only evaluation imports this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from townhall.services.assistant.passages import Passage, search_text

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BM25Baseline:
    def __init__(self, passages: Sequence[Passage]) -> None:
        from rank_bm25 import BM25Okapi

        self.passages = list(passages)
        corpus = [tokenize(search_text(p.title, p.heading, p.text)) for p in self.passages]
        # BM25Okapi divides by the corpus size; an empty index simply finds nothing.
        self.bm25 = BM25Okapi(corpus) if corpus else None
        self.locales = np.array([p.locale for p in self.passages], dtype=object)

    def search(self, query: str, k: int = 5, locale: str | None = None) -> list[Passage]:
        """The `k` best passages sharing a word with `query`, best first."""
        tokens = tokenize(query)
        if self.bm25 is None or not tokens:
            return []
        scores = np.asarray(self.bm25.get_scores(tokens), dtype=float)
        words = set(tokens)
        matched = np.array([not words.isdisjoint(freqs) for freqs in self.bm25.doc_freqs])
        if locale is not None:
            matched &= self.locales == locale
        order = np.argsort(-scores, kind="stable")
        return [self.passages[i] for i in order if matched[i]][:k]
