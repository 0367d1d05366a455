"""POST /api/v1/routing/route: a message to a team's queue, to triage, or to another council."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.app import create_app
from townhall.core import audit, auth, registry
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.services.routing.service import register_router
from townhall.settings import Settings

URL = "/api/v1/routing/route"

pytest_plugins = ("routing_fixtures",)


def routing_settings(database_url: str, model: Path, index: Path, **overrides: Any) -> Settings:
    return make_settings(
        database_url, routing_model_path=model, routing_postcode_index=index, **overrides
    )


@pytest.fixture
def settings(database_url: str, demo_model: Path, postcode_index: Path) -> Settings:
    return routing_settings(database_url, demo_model, postcode_index)


def token_for(app: FastAPI, username: str, role: str, *teams: str) -> dict[str, str]:
    """An API token's Authorization header for a new user with `role` in `teams`."""
    with transaction(app.state.engine) as session:
        rows = [session.scalar(select(auth.Team).where(auth.Team.slug == t)) for t in teams]
        user = auth.create_user(
            session,
            username=username,
            password="p" * 16,
            role=role,
            teams=[r for r in rows if r is not None],
            hasher=app.state.password_hasher,
        )
        return {"Authorization": f"Bearer {auth.issue_token(session, user, 'routing')[1]}"}


@pytest.fixture
def teams(engine: Engine, add_demo_teams: Callable[[Engine], dict[str, int]]) -> dict[str, int]:
    return add_demo_teams(engine)


@pytest.fixture
def waste_worker(app: FastAPI, teams: dict[str, int]) -> dict[str, str]:
    return token_for(app, "wendy", "caseworker", "waste")


def decision(engine: Engine, decision_id: str) -> DecisionRecord:
    with Session(engine) as session:
        found = session.get(DecisionRecord, decision_id)
        assert found is not None
        return found


def test_a_confident_route_lands_in_the_teams_review_queue(
    client: TestClient, engine: Engine, teams: dict[str, int], waste_worker: dict[str, str]
) -> None:
    text = "Hi, my name is Sam Jones and my green bin wasn't emptied on Tuesday. 07700 900982"
    response = client.post(URL, json={"text": text}, headers=waste_worker)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["team"] == "waste" and body["queue"] == "waste"
    assert body["abstained"] is False and body["reason"] == "confident"
    assert body["confidence"] > 0.9 and "bin" in " ".join(body["evidence"])
    assert body["local_authority"] is None and body["signpost"] is None
    record = decision(engine, body["decision_id"])
    assert record.decision_type == "routing.route" and record.status == "proposed"
    assert record.team_id == teams["waste"] and record.output["outcome"] == "waste"
    assert "waste" in record.output["options"] and "parking" in record.output["options"]
    # Reviewers read the message, but never the personal data in it.
    assert "Sam Jones" not in str(record.output) and "900982" not in str(record.output)
    assert "bin wasn't emptied" in record.output["message"]
    assert record.summary.startswith("Routed to waste: ")
    # It is in the waste team's queue, and not in the parking team's.
    queue = client.get("/api/v1/decisions", headers=waste_worker).json()
    assert body["decision_id"] in {d["id"] for d in queue["items"]}
    parking = token_for(client.app, "pat", "caseworker", "parking")  # type: ignore[arg-type]
    assert (
        client.get(f"/api/v1/decisions/{body['decision_id']}", headers=parking).status_code == 404
    )


def test_an_unsure_or_out_of_scope_message_goes_to_the_triage_queue(
    client: TestClient, engine: Engine, teams: dict[str, int], waste_worker: dict[str, str]
) -> None:
    response = client.post(
        URL, json={"text": "is the zoo open on bank holidays"}, headers=waste_worker
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["team"] is None and body["abstained"] is True
    assert body["reason"] in ("out_of_scope", "low_confidence") and body["queue"] == "triage"
    record = decision(engine, body["decision_id"])
    assert record.team_id == teams["triage"] and record.output["outcome"] == "triage"
    assert record.summary.startswith("Sent to triage (")


def test_a_message_about_another_councils_area_is_signposted_there(
    client: TestClient, engine: Engine, teams: dict[str, int], waste_worker: dict[str, str]
) -> None:
    text = "The bins outside SW1A 1AA have not been collected for two weeks"
    response = client.post(URL, json={"text": text}, headers=waste_worker)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["team"] is None and body["abstained"] is False
    assert body["reason"] == "other_authority" and body["queue"] == "triage"
    assert body["postcode"] == "SW1A 1AA"
    assert body["local_authority"] == {"code": "E09000033", "name": "Westminster"}
    assert body["signpost"]["name"] == "Westminster" and body["signpost"]["code"] == "E09000033"
    assert "Westminster" in body["signpost"]["message"]
    assert body["suggested_team"] == "waste"  # the topic is still read, for the reviewer
    record = decision(engine, body["decision_id"])
    assert record.output["outcome"] == "signpost: Westminster"
    assert record.summary.startswith("Signposted to Westminster: ")
    # The decision keeps the postcode district, never the whole postcode.
    assert record.output["place"]["postcode_district"] == "SW1A"
    assert "1AA" not in str(record.output)


def test_a_message_about_our_own_area_is_routed_here(
    client: TestClient, teams: dict[str, int], waste_worker: dict[str, str]
) -> None:
    text = "My bin wasn't collected at BA14 8JN"
    body = client.post(URL, json={"text": text}, headers=waste_worker).json()
    assert body["team"] == "waste" and body["signpost"] is None
    assert body["local_authority"] == {"code": "E06000054", "name": "Wiltshire"}


def test_a_given_postcode_is_used_before_any_in_the_message(
    client: TestClient, teams: dict[str, int], waste_worker: dict[str, str]
) -> None:
    text = "My mother at SW1A 1AA is coming to stay; I need a parking permit for her car"
    body = client.post(URL, json={"text": text, "postcode": "ba148jn"}, headers=waste_worker).json()
    assert body["postcode"] == "BA14 8JN" and body["signpost"] is None
    assert body["team"] == "parking"
    swindon = client.post(URL, json={"text": text, "postcode": "SN1 1HH"}, headers=waste_worker)
    assert swindon.json()["signpost"]["name"] == "Swindon"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"text": ""}, "text", "at least 1 character"),
        ({"text": "   "}, "text", "at least 1 character"),
        ({"text": "x" * 100_000}, "text", "at most 10000 characters"),
        ({"text": 42}, "text", "valid string"),
        ({"text": ["bins"]}, "text", "valid string"),
        ({}, "text", "required"),
        ({"text": "bins", "team": "waste"}, "team", "not permitted"),
        ({"text": "bins", "postcode": "hello"}, "postcode", "not a UK postcode"),
        ({"text": "bins", "postcode": 12345}, "postcode", "valid string"),
        ({"text": "bins", "postcode": "SW1A 9ZZ"}, "postcode", "not in the UK postcode register"),
        ({"text": "bins", "postcode": "x" * 17}, "postcode", "at most 16 characters"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_recorded(
    client: TestClient,
    engine: Engine,
    waste_worker: dict[str, str],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = client.post(URL, json=body, headers=waste_worker)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert words in error["message"], error
    assert field in {d.get("field") for d in error["details"]}, error
    with Session(engine) as session:
        assert session.scalars(select(DecisionRecord)).first() is None


def test_a_body_that_is_not_json_is_refused(
    client: TestClient, waste_worker: dict[str, str]
) -> None:
    response = client.post(URL, content=b"text=bins", headers=waste_worker)
    assert response.status_code == 415
    broken = client.post(
        URL, content=b'{"text": ', headers={**waste_worker, "content-type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "malformed_body"


def test_routing_needs_the_routing_permission_or_a_token_of_someone_who_has_it(
    client: TestClient, app: FastAPI, teams: dict[str, int]
) -> None:
    assert client.post(URL, json={"text": "bins"}).status_code == 401
    auditor = token_for(app, "audrey", "auditor")
    assert client.post(URL, json={"text": "bins"}, headers=auditor).status_code == 403
    analyst = token_for(app, "ana", "analyst")
    assert client.post(URL, json={"text": "my bin was missed"}, headers=analyst).status_code == 200


def test_every_route_is_audited_with_the_person_who_sent_it(
    client: TestClient, engine: Engine, waste_worker: dict[str, str]
) -> None:
    body = client.post(URL, json={"text": "parking ticket appeal"}, headers=waste_worker).json()
    with Session(engine) as session:
        entry = session.scalar(
            select(AuditEntry).where(AuditEntry.target == f"decision:{body['decision_id']}")
        )
        assert entry is not None and entry.action == "decision.recorded"
        assert entry.actor.startswith("user:")
        assert audit.verify(session).ok


@pytest.fixture
def without_model(
    database_url: str,
    tmp_path: Path,
    postcode_index: Path,
) -> Iterator[TestClient]:
    settings = routing_settings(database_url, tmp_path / "none.joblib", postcode_index)
    application = create_app(settings)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client
    application.state.engine.dispose()


def test_without_a_trained_router_every_message_goes_to_people(
    without_model: TestClient, add_demo_teams: Callable[[Engine], dict[str, int]]
) -> None:
    app: FastAPI = without_model.app  # type: ignore[assignment]
    add_demo_teams(app.state.engine)
    headers = token_for(app, "wendy", "caseworker", "waste")
    response = without_model.post(URL, json={"text": "my bin was missed"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["abstained"] is True and body["reason"] == "no_model"
    assert body["team"] is None and body["queue"] == "triage"
    record = decision(app.state.engine, body["decision_id"])
    assert record.model_version == "none" and "waste" in record.output["options"]


def test_withdrawing_the_router_in_the_registry_sends_every_message_to_people(
    client: TestClient,
    app: FastAPI,
    engine: Engine,
    demo_model: Path,
    waste_worker: dict[str, str],
) -> None:
    with transaction(engine) as session:
        admin = auth.create_user(
            session,
            username="root",
            password="r" * 16,
            role="admin",
            hasher=app.state.password_hasher,
        )
        register_router(session, model=demo_model, name="routing", version="9.9", by=admin)
    routed = client.post(URL, json={"text": "my bin was missed"}, headers=waste_worker).json()
    assert routed["team"] == "waste"
    assert decision(engine, routed["decision_id"]).model_version == "9.9"
    with transaction(engine) as session:
        admin = session.scalar(select(auth.User).where(auth.User.username == "root"))
        assert admin is not None
        registry.withdraw(
            session, registry.get(session, "routing", "9.9"), by=admin, reason="misrouting"
        )
    stopped = client.post(URL, json={"text": "my bin was missed"}, headers=waste_worker).json()
    assert stopped["abstained"] is True and stopped["reason"] == "model_withdrawn"
    assert stopped["queue"] == "triage"
