"""Fixtures for the routing tests (imported by name: a conftest.py here would shadow the suite's):
the demo council's messages, a fitted router, and a stand-in for MiniLM (hashed bags of words)
so that the hybrid's logic is tested in milliseconds."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pytest

from townhall.services.routing.data import Messages, load_messages
from townhall.services.routing.demo_data import OUT as DEMO
from townhall.services.routing.tfidf import TfidfRouter


def hashed_embeddings(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i] += np.random.default_rng(zlib.crc32(word.encode())).standard_normal(384)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.clip(norms, 1e-9, None)


@pytest.fixture
def hashed_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    from townhall.services.routing import hybrid

    monkeypatch.setattr(hybrid, "embed", hashed_embeddings)
    monkeypatch.setattr(hybrid, "embedding_version", lambda: "hashed-test")


@pytest.fixture(scope="session")
def demo_messages() -> Messages:
    return load_messages(DEMO)


@pytest.fixture(scope="session")
def demo_router(demo_messages: Messages) -> TfidfRouter:
    return TfidfRouter().fit(demo_messages.texts, demo_messages.teams)
