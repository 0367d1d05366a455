"""Fixtures for the routing tests (imported by name: a conftest.py here would shadow the suite's):
the demo council's messages, a fitted router (in memory and saved), where the postcode register's
index goes, the demo teams, and a stand-in for MiniLM (hashed bags of words) so that the hybrid's
logic is tested in milliseconds."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.demo import TEAMS
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


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo council's router, trained once and saved as `townhall routing train` saves it."""
    from townhall.services.routing.service import train_router

    path = tmp_path_factory.mktemp("routing-model") / "routing.joblib"
    train_router(DEMO, out=path)
    return path


@pytest.fixture(scope="session")
def postcode_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests' copy of the real postcode register is built, a letter at a time."""
    return tmp_path_factory.mktemp("postcodes") / "postcodes.sqlite"


def demo_teams(engine: Engine) -> dict[str, int]:
    """The demo council's teams (slug -> id), as `townhall demo` creates them."""
    with transaction(engine) as session:
        for slug, name, description in TEAMS:
            if session.scalar(select(auth.Team).where(auth.Team.slug == slug)) is None:
                session.add(auth.Team(slug=slug, name=name, description=description))
        session.flush()
        return {t.slug: t.id for t in session.scalars(select(auth.Team))}


@pytest.fixture(scope="session")
def add_demo_teams() -> Callable[[Engine], dict[str, int]]:
    """`demo_teams`, for tests that load this module as a plugin rather than import it."""
    return demo_teams
