"""The assistant's JSON API: its shapes, its refusals of bad input, its limits and permissions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from demo_corpus import DEFAULT_TEAM, PAGES, seed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.app import create_app
from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.services.assistant.models import Conversation, Handoff, Rating, Turn
from townhall.settings import Settings

ASK, RATE, HANDOFF, GAPS = (
    "/api/v1/assistant/ask",
    "/api/v1/assistant/rate",
    "/api/v1/assistant/handoff",
    "/api/v1/assistant/gaps",
)
BINS_XS2 = "What day are bins collected in XS2?"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, assistant_default_team=DEFAULT_TEAM)


@pytest.fixture
def corpus(engine: Engine, settings: Settings) -> None:
    seed(engine, settings)


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.__tablename__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (DecisionRecord, Conversation, Turn, Rating, Handoff)
        }


NOTHING = {
    "decision_records": 0,
    "assistant_conversations": 0,
    "assistant_turns": 0,
    "assistant_ratings": 0,
    "assistant_handoffs": 0,
}


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The platform's error shape, checked; returns its inner object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status and error["message"].strip()
    return error


def fields_of(error: dict[str, Any]) -> set[str]:
    return {d["field"] for d in error["details"]}


def token_for(app: FastAPI, engine: Engine, make_user: Callable[..., auth.User], role: str) -> str:
    user = make_user(f"api.{role}", role)
    with transaction(engine) as session:
        return auth.issue_token(session, session.merge(user), "tests")[1]


@pytest.mark.usefixtures("corpus")
def test_ask_answers_in_exactly_the_documented_shape_and_follows_up(
    client: TestClient, engine: Engine
) -> None:
    response = client.post(ASK, json={"question": "Can I get a Blue Badge?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "answer",
        "citations",
        "refused",
        "reason",
        "conversation_id",
        "decision_id",
    }
    assert (body["refused"], body["reason"]) == (False, "answered")
    assert body["answer"].strip() and re.search(r"\[1\]$", body["answer"].split("\n")[0])
    assert body["citations"]
    for citation in body["citations"]:
        assert set(citation) == {"url", "title", "heading"}
        assert citation["url"] == PAGES["blue-badge"][0] and citation["title"] == "Blue Badges"
    with Session(engine) as session:
        decision = session.get(DecisionRecord, body["decision_id"])
    assert decision is not None and decision.subject_ref.endswith(body["conversation_id"])

    follow_up = client.post(
        ASK, json={"question": "How long does it last?", "conversation_id": body["conversation_id"]}
    )
    assert follow_up.status_code == 200
    assert follow_up.json()["conversation_id"] == body["conversation_id"]
    assert not follow_up.json()["refused"]
    assert {c["url"] for c in follow_up.json()["citations"]} == {PAGES["blue-badge"][0]}


@pytest.mark.usefixtures("corpus")
def test_a_refusal_in_the_api_gives_its_reason_and_no_citations(client: TestClient) -> None:
    response = client.post(ASK, json={"question": "How do I renew my passport?"})
    assert response.status_code == 200
    body = response.json()
    assert (body["refused"], body["reason"], body["citations"]) == (True, "weak_evidence", [])
    assert "pass your question to a person" in body["answer"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "  \n  "}, "question"),
        ({"question": "x" * 100_000}, "question"),
        ({"question": 123}, "question"),
        ({"question": ["When are bins collected?"]}, "question"),
        ({"question": None}, "question"),
        ({}, "question"),
        ({"question": BINS_XS2, "conversation_id": 5}, "conversation_id"),
        ({"question": BINS_XS2, "conversation_id": "not-hex!"}, "conversation_id"),
        ({"question": BINS_XS2, "locale": "english please"}, "locale"),
        ({"question": BINS_XS2, "mood": "cheerful"}, "mood"),
    ],
    ids=[
        "empty",
        "blank",
        "100kB",
        "number",
        "list",
        "null",
        "missing",
        "conversation-number",
        "conversation-not-hex",
        "bad-locale",
        "unknown-field",
    ],
)
def test_a_bad_question_is_a_422_naming_the_field_and_nothing_is_stored(
    client: TestClient, engine: Engine, body: dict[str, Any], field: str
) -> None:
    error = error_of(client.post(ASK, json=body), 422)
    assert error["code"] == "invalid_input"
    assert field in fields_of(error), error
    assert field in error["message"]
    assert counts(engine) == NOTHING


def test_a_body_that_is_not_json_is_refused_and_nothing_is_stored(
    client: TestClient, engine: Engine
) -> None:
    form = client.post(ASK, data={"question": BINS_XS2})
    assert error_of(form, 415)["code"] == "unsupported_media_type"
    broken = client.post(
        ASK, content=b'{"question": "bins', headers={"content-type": "application/json"}
    )
    assert error_of(broken, 400)["code"] == "malformed_body"
    not_an_object = client.post(ASK, json=[BINS_XS2])
    assert error_of(not_an_object, 422)["code"] == "invalid_input"
    assert counts(engine) == NOTHING


def test_an_unknown_conversation_is_a_404_and_nothing_is_stored(
    client: TestClient, engine: Engine
) -> None:
    response = client.post(ASK, json={"question": BINS_XS2, "conversation_id": "0f" * 16})
    error = error_of(response, 404)
    assert error["code"] == "not_found" and fields_of(error) == {"conversation_id"}
    assert "start a new one" in error["message"]
    assert counts(engine) == NOTHING


@pytest.mark.usefixtures("corpus")
def test_rating_an_answer_keeps_the_comment_redacted(client: TestClient, engine: Engine) -> None:
    answered = client.post(ASK, json={"question": BINS_XS2}).json()
    response = client.post(
        RATE,
        json={
            "decision_id": answered["decision_id"],
            "helpful": False,
            "comment": "Not my area. Email me at sam.jones@example.co.uk",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"decision_id": answered["decision_id"], "helpful": False}
    with Session(engine) as session:
        (rating,) = session.scalars(select(Rating)).all()
    assert (rating.helpful, rating.comment) == (False, "Not my area. Email me at [EMAIL_ADDRESS]")


@pytest.mark.usefixtures("corpus")
def test_bad_ratings_are_refused_and_nothing_is_stored(client: TestClient, engine: Engine) -> None:
    answered = client.post(ASK, json={"question": BINS_XS2}).json()
    decision_id = answered["decision_id"]
    unknown = client.post(RATE, json={"decision_id": "no-such-answer", "helpful": True})
    assert error_of(unknown, 404)["code"] == "not_found"
    too_long = client.post(
        RATE, json={"decision_id": decision_id, "helpful": False, "comment": "x" * 1001}
    )
    assert fields_of(error_of(too_long, 422)) == {"comment"}
    for helpful in ("yes", 1, None):
        wrong = client.post(RATE, json={"decision_id": decision_id, "helpful": helpful})
        assert fields_of(error_of(wrong, 422)) == {"helpful"}, helpful
    assert counts(engine)["assistant_ratings"] == 0


@pytest.mark.usefixtures("corpus")
def test_a_hand_off_is_created_with_a_reference_for_the_owning_team(
    client: TestClient, engine: Engine
) -> None:
    answered = client.post(ASK, json={"question": BINS_XS2}).json()
    response = client.post(
        HANDOFF,
        json={
            "question": "My XS2 bin was missed on Tuesday",
            "conversation_id": answered["conversation_id"],
            "contact": "sam.jones@example.co.uk",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"reference": "ASK-000001", "team": "waste"}
    with Session(engine) as session:
        (handoff,) = session.scalars(select(Handoff)).all()
    assert handoff.conversation_id == answered["conversation_id"]

    blank = client.post(HANDOFF, json={"question": "   "})
    assert fields_of(error_of(blank, 422)) == {"question"}
    long = client.post(HANDOFF, json={"question": "x" * 5000})
    assert fields_of(error_of(long, 422)) == {"question"}
    assert counts(engine)["assistant_handoffs"] == 1


def test_too_many_questions_from_one_client_are_a_429(database_url: str) -> None:
    settings = make_settings(database_url, assistant_rate_limit_per_minute=2)
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for _ in range(2):
                assert client.post(ASK, json={"question": BINS_XS2}).status_code == 200
            error = error_of(client.post(ASK, json={"question": BINS_XS2}), 429)
            assert error["code"] == "too_many_attempts" and error["details"] == []
            assert "Wait a minute" in error["message"]
            # Hand-offs and ratings count against the same limit: anonymous writes, all of them.
            error_of(client.post(HANDOFF, json={"question": BINS_XS2}), 429)
            rating = {"decision_id": "anything", "helpful": True}
            error_of(client.post(RATE, json=rating), 429)
        assert counts(app.state.engine)["decision_records"] == 2
    finally:
        app.state.engine.dispose()


def test_content_gaps_are_for_staff_who_manage_the_assistant(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
) -> None:
    client.post(ASK, json={"question": "Is the swimming pool open on Sundays?"})
    anonymous = client.get(GAPS)
    assert error_of(anonymous, 401)["code"] == "not_signed_in"
    assert anonymous.headers["www-authenticate"] == "Bearer"

    caseworker = token_for(app, engine, make_user, "caseworker")
    refused = client.get(GAPS, headers={"Authorization": f"Bearer {caseworker}"})
    assert error_of(refused, 403)["code"] == "forbidden"

    analyst = token_for(app, engine, make_user, "analyst")
    response = client.get(GAPS, headers={"Authorization": f"Bearer {analyst}"})
    assert response.status_code == 200
    (topic,) = response.json()
    assert topic == {
        "label": "Is the swimming pool open on Sundays?",
        "count": 1,
        "reasons": {"refused: weak_evidence": 1},
        "examples": ["Is the swimming pool open on Sundays?"],
    }
    bad_days = client.get(GAPS, params={"days": 0}, headers={"Authorization": f"Bearer {analyst}"})
    assert fields_of(error_of(bad_days, 422)) == {"days"}
