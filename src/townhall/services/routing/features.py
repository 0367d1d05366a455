"""Sentence embeddings for the hybrid router, with an optional cache for repeated experiments.

The encoder is the platform's MiniLM (int8 ONNX, weights from a registry package). Embedding
costs milliseconds per message where TF-IDF costs microseconds, so cross-validation and
benchmarks embed each distinct text once: inside `cached_embeddings()` vectors are memoised by
text, and kept in a `.npz` file between runs when a path is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from townhall.core.embeddings import DIMENSIONS, encoder

_cache: dict[str, np.ndarray] | None = None


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """float32 (n, 384) unit vectors, one per text."""
    if _cache is None:
        return encoder().encode(list(texts), batch_size=batch_size)
    missing = sorted({t for t in texts if t not in _cache})
    if missing:
        vectors = encoder().encode(missing, batch_size=batch_size)
        _cache.update(zip(missing, vectors, strict=True))
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.stack([_cache[t] for t in texts])


def embedding_version() -> str:
    return encoder().version


@contextmanager
def cached_embeddings(path: Path | None = None) -> Iterator[None]:
    """Memoise embeddings by text for the duration; load from and save to `path` if given."""
    global _cache
    previous = _cache
    _cache = {} if previous is None else previous
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            _cache.update(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
    known = len(_cache)
    try:
        yield
    finally:
        if path is not None and len(_cache) > known:
            texts = list(_cache)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, texts=np.array(texts), vectors=np.stack([_cache[t] for t in texts]))
        _cache = previous


def texts_digest(texts: Sequence[str]) -> str:
    """A short digest naming a list of texts (for cache file names)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]
