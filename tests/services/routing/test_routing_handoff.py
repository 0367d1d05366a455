"""The assistant's hand-offs ask the routing service's router, through the core's seam."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.core import auth, handoff, registry
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.services.assistant import answers
from townhall.services.assistant.runtime import build_pipeline
from townhall.services.routing.resolver import resolve_team, resolve_with_router
from townhall.services.routing.service import register_router
from townhall.settings import Settings, get_settings

DEFAULT_TEAM = "customer-services"

pytest_plugins = ("routing_fixtures",)


def test_the_routing_service_registers_its_resolver_with_the_core() -> None:
    import townhall.services.routing  # noqa: F401 (registers on import)

    assert resolve_team in handoff.team_resolvers()


def test_the_router_names_the_team_and_its_evidence_when_it_is_sure(
    db: Session,
    demo_model: Path,
) -> None:
    found = resolve_with_router(db, "my green bin wasn't emptied", model=demo_model, name="routing")
    assert found is not None
    team, evidence = found
    assert team == "waste" and "bin" in evidence and "confidence" in evidence


def test_the_router_says_nothing_when_it_abstains_or_has_no_model(
    db: Session,
    demo_model: Path,
    tmp_path: Path,
) -> None:
    assert resolve_with_router(db, "is the zoo open", model=demo_model, name="routing") is None
    missing = tmp_path / "none.joblib"
    assert resolve_with_router(db, "my bin was missed", model=missing, name="routing") is None
    assert resolve_with_router(db, "   ", model=demo_model, name="routing") is None


def test_a_withdrawn_router_is_not_asked(
    db: Session,
    demo_model: Path,
    make_user,
) -> None:
    admin = make_user("root", "admin")
    model = registry.get(
        db,
        "routing",
        register_router(db, model=demo_model, name="routing", version="1", by=admin)["version"],
    )
    registry.withdraw(db, model, by=admin, reason="sent bins to planning")
    assert resolve_with_router(db, "my bin was missed", model=demo_model, name="routing") is None


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    demo_model: Path,
) -> Iterator[None]:
    """The process's settings (what the registered resolver reads) name the demo router."""
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "s" * 32)
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_ROUTING_MODEL_PATH", str(demo_model))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def teams(engine: Engine, add_demo_teams: Callable[[Engine], dict[str, int]]) -> dict[str, int]:
    return add_demo_teams(engine)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, assistant_default_team=DEFAULT_TEAM)


def handed_to(engine: Engine, settings: Settings, question: str) -> DecisionRecord:
    with transaction(engine) as session:
        made = answers.hand_off(
            session, build_pipeline(settings, engine), question, default_team=DEFAULT_TEAM
        )
        decision = session.get(DecisionRecord, made.decision_id)
        assert decision is not None
        session.expunge(decision)
        return decision


def test_an_assistant_hand_off_goes_to_the_team_the_router_chooses(
    app: FastAPI, engine: Engine, settings: Settings, configured: None, teams: dict[str, int]
) -> None:
    decision = handed_to(engine, settings, "My black bin was not collected this week")
    assert decision.team_id == teams["waste"] and decision.output["team"] == "waste"
    assert decision.explanation["team_from"].startswith("router routing ")
    assert "bin" in decision.explanation["team_from"]


def test_when_the_router_abstains_the_assistant_falls_back_to_its_default_team(
    app: FastAPI, engine: Engine, settings: Settings, configured: None, teams: dict[str, int]
) -> None:
    decision = handed_to(engine, settings, "Is the zoo open on bank holidays?")
    assert decision.team_id == teams[DEFAULT_TEAM]
    assert decision.explanation["team_from"] == "default team"


def test_without_usable_settings_the_resolver_steps_aside(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOWNHALL_SECRET_KEY", raising=False)
    monkeypatch.delenv("TOWNHALL_DEMO_MODE", raising=False)
    get_settings.cache_clear()
    try:
        assert resolve_team(db, "my bin was missed") is None
    finally:
        get_settings.cache_clear()
    assert db.scalar(select(auth.Team)) is None  # and nothing was written
