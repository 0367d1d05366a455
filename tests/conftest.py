"""Fixtures shared by the whole suite.

Every test that takes ``database_url`` (directly or through ``settings``, ``app``, ``client`` or
``engine``) runs twice: on SQLite and on a throwaway PostgreSQL server the suite starts itself.
Each test gets its own database, copied from a migrated template, so tests never share rows.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from pgserver import running_postgres
from townhall.app import create_app
from townhall.core import auth, decisions
from townhall.core.db import transaction
from townhall.core.migrate import upgrade
from townhall.settings import Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-" + "x" * 16
PASSWORD = "correct horse battery staple"
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with running_postgres() as url:
        admin = create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE townhall_template"))
        admin.dispose()
        upgrade(f"{url}/townhall_template")
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "townhall.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_url")
    name = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE townhall_template"))
    try:
        yield f"{server}/{name}"
    finally:
        from townhall.core.db import get_engine

        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "environment": "test",
        "password_time_cost": 1,
        "password_memory_kib": 1024,
        "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    return app.state.engine


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for arranging and checking data; commit what the app must see."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def make_user(app: FastAPI, engine: Engine) -> Callable[..., auth.User]:
    def _make(
        username: str, role: str, teams: tuple[str, ...] = (), password: str = PASSWORD
    ) -> auth.User:
        with transaction(engine) as session:
            team_rows = []
            for slug in teams:
                team = session.query(auth.Team).filter_by(slug=slug).one_or_none()
                if team is None:
                    team = auth.Team(slug=slug, name=slug.replace("-", " ").title())
                    session.add(team)
                    session.flush()
                team_rows.append(team)
            return auth.create_user(
                session,
                username=username,
                password=password,
                role=role,
                teams=team_rows,
                hasher=app.state.password_hasher,
            )

    return _make


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/staff",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def post_form(client: TestClient, url: str, data: dict[str, str], *, page: str = "/staff"):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(page).text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def propose(engine: Engine, team: str | None = None, **overrides: Any) -> str:
    """Record a proposed decision (optionally for a team, made if missing); return its id."""
    with transaction(engine) as session:
        team_id = None
        if team:
            row = session.scalar(select(auth.Team).where(auth.Team.slug == team))
            if row is None:
                row = auth.Team(slug=team, name=team.title())
                session.add(row)
                session.flush()
            team_id = row.id
        values: dict[str, Any] = dict(
            service="casework",
            decision_type="casework.triage",
            subject_ref="pseud-abc",
            model_name="triage-rules",
            model_version="2026.1",
            inputs={"form": "missed-bin", "answers": [1, 2]},
            output={"outcome": "urgent", "options": ["urgent", "routine"]},
            confidence=0.8,
            explanation={"reasons": [{"text": "Assisted collection"}]},
            summary="Missed bin",
            team_id=team_id,
        )
        values.update(overrides)
        return decisions.record(session, **values).id
