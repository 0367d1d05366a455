"""Decision records and the human review queue: accept, override with a reason, team scoping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import post_form, sign_in
from conftest import propose as _propose
from townhall.core import auth, decisions, review
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.errors import Conflict, InvalidInput, NotFound


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_record_stores_digest_not_inputs_and_is_audited(engine: Engine) -> None:
    decision_id = _propose(engine)
    with Session(engine) as session:
        decision = session.get(decisions.DecisionRecord, decision_id)
        assert decision.status == "proposed"
        assert decision.input_digest == decisions.digest_inputs(
            {"answers": [1, 2], "form": "missed-bin"}
        )
        assert decision.final_output is None
    assert _actions(engine) == ["decision.recorded"]


def test_record_refuses_confidence_outside_zero_to_one(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        _propose(engine, confidence=1.5)


def test_accept_sets_final_output_and_audits(
    engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    decision_id = _propose(engine)
    with transaction(engine) as session:
        me = session.get(auth.User, user.id)
        review.accept(session, me, decision_id)
    with Session(engine) as session:
        decision = session.get(decisions.DecisionRecord, decision_id)
        assert decision.status == "accepted"
        assert decision.final_output == decision.output
        assert decision.reviewer_id == user.id and decision.reviewed_at is not None
    assert _actions(engine)[-1] == "decision.accepted"


def test_override_without_reason_is_refused(
    engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    decision_id = _propose(engine)
    with pytest.raises(InvalidInput, match="reason"), transaction(engine) as session:
        review.override_outcome(
            session, session.get(auth.User, user.id), decision_id, outcome="routine", reason="   "
        )
    with Session(engine) as session:
        assert session.get(decisions.DecisionRecord, decision_id).status == "proposed"
    assert "decision.overridden" not in _actions(engine)


def test_override_keeps_proposal_and_human_choice_apart(
    engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    decision_id = _propose(engine)
    with transaction(engine) as session:
        review.override_outcome(
            session,
            session.get(auth.User, user.id),
            decision_id,
            outcome="routine",
            reason="Neighbour collected it",
        )
    with Session(engine) as session:
        decision = session.get(decisions.DecisionRecord, decision_id)
        assert decision.output["outcome"] == "urgent"
        assert decision.final_output == {"outcome": "routine"}
        assert decision.review_reason == "Neighbour collected it"
    assert _actions(engine)[-1] == "decision.overridden"


def test_a_decision_is_reviewed_only_once(
    engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    decision_id = _propose(engine)
    with transaction(engine) as session:
        review.accept(session, session.get(auth.User, user.id), decision_id)
    with pytest.raises(Conflict), transaction(engine) as session:
        review.override_outcome(
            session,
            session.get(auth.User, user.id),
            decision_id,
            outcome="routine",
            reason="changed my mind",
        )


def test_staff_see_only_their_teams_decisions(
    engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    ours = _propose(engine, "waste")
    theirs = _propose(engine, "parking")
    shared = _propose(engine, None)
    user = make_user("robin", "caseworker", teams=("waste",))
    auditor = make_user("audrey", "auditor")
    with Session(engine) as session:
        me = session.get(auth.User, user.id)
        visible = {d.id for d in review.queue(session, me).items}
        assert visible == {ours, shared}
        with pytest.raises(NotFound):
            review.get(session, me, theirs)
        everyone = {d.id for d in review.queue(session, session.get(auth.User, auditor.id)).items}
        assert everyone == {ours, theirs, shared}


def test_review_page_accepts_and_refuses_override_without_reason(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    first, second = _propose(engine), _propose(engine)
    sign_in(client, "casey")
    queue = client.get("/review")
    assert first in queue.text and second in queue.text

    refused = post_form(
        client,
        f"/review/{first}/override",
        {"outcome": "routine", "reason": ""},
        page=f"/review/{first}",
    )
    assert refused.status_code == 422
    assert "Enter the reason for overriding this decision" in refused.text
    assert "govuk-error-summary" in refused.text

    accepted = post_form(client, f"/review/{second}/accept", {}, page=f"/review/{second}")
    assert accepted.status_code == 303
    overridden = post_form(
        client,
        f"/review/{first}/override",
        {"outcome": "routine", "reason": "Collected on the next round"},
        page=f"/review/{first}",
    )
    assert overridden.status_code == 303
    with Session(engine) as session:
        assert session.get(decisions.DecisionRecord, first).status == "overridden"
        assert session.get(decisions.DecisionRecord, second).status == "accepted"
    assert _actions(engine)[-2:] == ["decision.accepted", "decision.overridden"]


def test_review_api_round_trip(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    with transaction(engine) as session:
        _, token = auth.issue_token(session, session.get(auth.User, user.id), "tests")
    headers = {"Authorization": f"Bearer {token}"}
    decision_id = _propose(engine)
    listing = client.get("/api/v1/decisions", headers=headers).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == decision_id
    missing_reason = client.post(
        f"/api/v1/decisions/{decision_id}/override",
        headers=headers,
        json={"outcome": "routine", "reason": ""},
    )
    assert missing_reason.status_code == 422
    done = client.post(
        f"/api/v1/decisions/{decision_id}/override",
        headers=headers,
        json={"outcome": "routine", "reason": "Checked the round sheet"},
    )
    assert done.status_code == 200
    assert done.json()["status"] == "overridden"
    assert done.json()["output"]["outcome"] == "urgent"
    assert done.json()["final_output"]["outcome"] == "routine"
