"""Re-routing: a caseworker sends a routed message to another team with a reason, the message
moves to that team's queue, and the next training run learns from it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from conftest import csrf_from, make_settings, sign_in
from townhall.core import audit, auth, review
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.services.routing.cli import app as routing_cli
from townhall.services.routing.demo_data import OUT as DEMO
from townhall.services.routing.reroutes import REROUTE_MODEL, reroutes
from townhall.services.routing.service import route_message
from townhall.settings import Settings, get_settings

URL = "/api/v1/routing/route"
GRITTER = [
    "the gritter did not come down our road again",
    "no gritting lorry on our hill this week",
    "the gritters skipped Mill Lane in the ice",
    "can you send a gritter to Church Lane, it is like an ice rink",
    "why was our road not gritted last night",
    "gritter missed Station Road",
]

pytest_plugins = ("routing_fixtures",)


@pytest.fixture
def settings(database_url: str, demo_model: Path, postcode_index: Path) -> Settings:
    return make_settings(
        database_url, routing_model_path=demo_model, routing_postcode_index=postcode_index
    )


@pytest.fixture
def teams(engine: Engine, add_demo_teams: Callable[[Engine], dict[str, int]]) -> dict[str, int]:
    return add_demo_teams(engine)


def route(client: TestClient, app: FastAPI, text: str) -> dict[str, str]:
    with transaction(app.state.engine) as session:
        user = session.scalar(select(auth.User).where(auth.User.username == "sender"))
        if user is None:
            user = auth.create_user(
                session,
                username="sender",
                password="s" * 16,
                role="caseworker",
                hasher=app.state.password_hasher,
            )
        token = auth.issue_token(session, user, "routing")[1]
    response = client.post(URL, json={"text": text}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_a_caseworker_re_routes_a_message_on_the_review_page_and_it_moves_team(
    client: TestClient,
    app: FastAPI,
    engine: Engine,
    teams: dict[str, int],
    make_user: Callable[..., auth.User],
) -> None:
    routed = route(client, app, "My bin wasn't collected and the bin lorry blocked my drive")
    assert routed["team"] == "waste"
    make_user("wendy", "caseworker", ("waste",))
    sign_in(client, "wendy")
    page = client.get(f"/review/{routed['decision_id']}")
    assert page.status_code == 200
    # The teams are offered as the outcome to choose instead; the message is shown redacted.
    assert '<option value="parking">parking</option>' in page.text
    assert "bin lorry blocked my drive" in page.text
    response = client.post(
        f"/review/{routed['decision_id']}/override",
        data={
            "outcome": "parking",
            "reason": "The lorry blocking the drive is the parking complaint here",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with Session(engine) as session:
        original = session.get(DecisionRecord, routed["decision_id"])
        assert original is not None and original.status == "overridden"
        assert original.final_output is not None and original.final_output["outcome"] == "parking"
        assert original.review_reason.startswith("The lorry")  # type: ignore[union-attr]
        moved = session.scalar(
            select(DecisionRecord).where(DecisionRecord.model_name == REROUTE_MODEL)
        )
        assert moved is not None and moved.status == "proposed"
        assert moved.team_id == teams["parking"] and moved.output["outcome"] == "parking"
        assert moved.output["rerouted_from"] == original.id
        assert moved.output["message"] == original.output["message"]
        assert moved.summary.startswith("Re-routed to Parking: ")
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "routing.rerouted"))
        assert entry is not None and entry.target == f"decision:{original.id}"
        assert audit.verify(session).ok
    # Waste has nothing left to do with it: it waits in parking's queue.
    waiting = client.get("/api/v1/decisions?status=proposed").json()["items"]
    assert routed["decision_id"] not in {d["id"] for d in waiting}


def test_re_routing_to_something_that_is_not_a_team_is_refused_and_changes_nothing(
    client: TestClient,
    app: FastAPI,
    engine: Engine,
    teams: dict[str, int],
    make_user: Callable[..., auth.User],
) -> None:
    routed = route(client, app, "I got a parking ticket on Station Road, can I appeal")
    make_user("pat", "caseworker", ("parking",))
    with transaction(engine) as session:
        token = auth.issue_token(
            session,
            session.scalars(select(auth.User).where(auth.User.username == "pat")).one(),
            "review",
        )[1]
    response = client.post(
        f"/api/v1/decisions/{routed['decision_id']}/override",
        json={"outcome": "the moon", "reason": "wrong team"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "Choose the team" in error["message"] and error["details"][0]["field"] == "outcome"
    with Session(engine) as session:
        unchanged = session.get(DecisionRecord, routed["decision_id"])
        assert unchanged is not None and unchanged.status == "proposed"
        assert len(session.scalars(select(DecisionRecord)).all()) == 1


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """`townhall routing train --with-reroutes` reads the test's database from the settings."""
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "s" * 32)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_re_routes_feed_the_next_training_run(
    client: TestClient,
    app: FastAPI,
    engine: Engine,
    teams: dict[str, int],
    make_user: Callable[..., auth.User],
    demo_model: Path,
    tmp_path: Path,
    cli_env: None,
) -> None:
    triager = make_user("tri", "caseworker", ("triage",))
    for text in GRITTER:
        routed = route(client, app, text)
        assert routed["queue"] == "triage"  # no team handles gritting in the demo data
        with transaction(engine) as session:
            user = session.get(auth.User, triager.id)
            assert user is not None
            review.override_outcome(
                session,
                user,
                routed["decision_id"],
                outcome="customer-services",
                reason="Highways enquiries go to customer services",
            )
    with Session(engine) as session:
        examples = reroutes(session)
    assert [team for _, team in examples] == ["customer-services"] * len(GRITTER)
    assert examples[0][0] == GRITTER[0]

    out = tmp_path / "retrained.joblib"
    result = CliRunner().invoke(
        routing_cli, ["train", str(DEMO), "--with-reroutes", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    assert meta["extra_examples"]["used"] == len(GRITTER)
    before = route_message("the gritter never came", model=demo_model)
    after = route_message("the gritter never came", model=out)
    assert before.suggested_team != "customer-services"
    assert after.suggested_team == "customer-services" and "gritter" in after.evidence
    plain = CliRunner().invoke(routing_cli, ["train", str(DEMO), "--out", str(out), "--json"])
    assert "extra_examples" not in json.loads(plain.output)
