"""Hybrid retrieval: BM25 (bm25s, Snowball-stemmed) and dense MiniLM vectors, fused by rank.

Reciprocal rank fusion (Cormack et al., 2009) needs no score calibration between the two lists,
which is why it is used instead of a weighted sum. The index is built in memory from the chunk
rows (text and stored embeddings), so it always matches the database; each process rebuilds it
when the index generation row moves (an ingest changed something).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from townhall.core.embeddings import DIMENSIONS, Encoder, encoder
from townhall.services.assistant.models import Chunk, Document, IndexGeneration
from townhall.services.assistant.passages import Passage, search_text

RRF_K = 60  # the constant from the RRF paper; rankings past ~60 barely count
POOL = 50  # candidates taken from each retriever before fusion


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@dataclass
class Index:
    passages: list[Passage]
    vectors: np.ndarray  # (n, 384) unit vectors, row i is passages[i]
    bm25: Any
    locales: np.ndarray
    generation: int = 0

    @classmethod
    def build(cls, passages: list[Passage], vectors: np.ndarray, generation: int = 0) -> Index:
        import bm25s

        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        bm25 = bm25s.BM25()
        if passages:
            corpus = [search_text(p.title, p.heading, p.text) for p in passages]
            tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=_stemmer(), show_progress=False)
            bm25.index(tokens, show_progress=False)
        locales = np.array([p.locale for p in passages], dtype=object)
        return cls(passages, vectors.reshape(-1, DIMENSIONS), bm25, locales, generation)

    def __len__(self) -> int:
        return len(self.passages)

    def _mask(self, locale: str | None) -> np.ndarray | None:
        if locale is None:
            return None
        return (self.locales == locale).astype(np.float32)

    def lexical(self, query: str, k: int = POOL, locale: str | None = None) -> list[int]:
        """Passage indexes by BM25, best first (only passages sharing a term with the query)."""
        import bm25s

        if not self.passages:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
        )
        if not tokens or not tokens[0]:
            return []
        mask = self._mask(locale)
        k = min(k, len(self.passages))
        ids, scores = self.bm25.retrieve(
            tokens, k=k, show_progress=False, weight_mask=mask, n_threads=1
        )
        return [int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def dense(
        self, query_vector: np.ndarray, k: int = POOL, locale: str | None = None
    ) -> list[tuple[int, float]]:
        """Passage indexes and cosine similarities, best first."""
        if not self.passages:
            return []
        sims = self.vectors @ query_vector
        mask = self._mask(locale)
        if mask is not None:
            sims = np.where(mask > 0, sims, -np.inf)
        k = min(k, len(self.passages))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [(int(i), float(sims[i])) for i in top if np.isfinite(sims[i])]

    def search(
        self,
        query: str,
        k: int = 5,
        locale: str | None = None,
        query_vector: np.ndarray | None = None,
        embed: Encoder | None = None,
    ) -> list[Passage]:
        """The `k` best passages for `query` by reciprocal rank fusion of BM25 and dense."""
        if query_vector is None:
            query_vector = (embed or encoder()).encode([query])[0]
        dense = self.dense(query_vector, POOL, locale)
        cosine = dict(dense)
        fused: dict[int, float] = {}
        for rank, i in enumerate(self.lexical(query, POOL, locale)):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (i, _) in enumerate(dense):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return [
            replace(
                self.passages[i],
                score=fused[i],
                dense=cosine.get(i, float(self.vectors[i] @ query_vector)),
            )
            for i in best
        ]


def current_generation(session: Session) -> int:
    row = session.get(IndexGeneration, 1)
    return row.generation if row else 0


def bump_generation(session: Session) -> int:
    """Call in the transaction of any change to documents or chunks."""
    row = session.get(IndexGeneration, 1)
    if row is None:
        row = IndexGeneration(id=1, generation=0)
        session.add(row)
    row.generation += 1
    return row.generation


def load(session: Session) -> Index:
    """Build the index from every chunk in the database."""
    generation = current_generation(session)
    rows = session.execute(
        select(Chunk, Document.url, Document.title)
        .join(Document, Chunk.document_id == Document.id)
        .order_by(Chunk.id)
    ).all()
    passages = [
        Passage(chunk.id, url, title, chunk.heading, chunk.text, chunk.locale)
        for chunk, url, title in rows
    ]
    vectors = np.frombuffer(b"".join(chunk.embedding for chunk, _, _ in rows), dtype="<f4")
    return Index.build(passages, vectors.reshape(-1, DIMENSIONS).copy(), generation)


_cache: dict[str, Index] = {}
_lock = threading.Lock()


def index_for(engine: Engine) -> Index:
    """This process's index for a database, rebuilt when an ingest has changed the generation."""
    key = str(engine.url)
    with Session(engine) as session:
        generation = current_generation(session)
        cached = _cache.get(key)
        if cached is not None and cached.generation == generation:
            return cached
        with _lock:
            cached = _cache.get(key)
            if cached is None or cached.generation != generation:
                cached = _cache[key] = load(session)
    return cached
