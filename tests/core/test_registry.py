"""Model registry: lifecycle, four-eyes promotion, the stop switch and shadow agreement."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townhall.core import auth, registry
from townhall.core.audit import AuditEntry, verify
from townhall.core.db import transaction
from townhall.core.errors import Conflict, Forbidden, InvalidInput

DIGEST = hashlib.sha256(b"training data").hexdigest()
CARD = {
    "purpose": "Triage missed-bin reports",
    "owner": "Waste team",
    "training_data": "Reports 2024-2026",
    "limitations": "Not for commercial waste",
}
PASSED = {"verdict": "pass", "use": "assistive"}


def _register(session: Session, version: str = "1.0", **kw: object) -> registry.RegisteredModel:
    values: dict[str, object] = dict(
        name="triage", version=version, training_data_digest=DIGEST, metrics={"accuracy": 0.9}
    )
    values.update(kw)
    return registry.register(session, **values)  # type: ignore[arg-type]


def _live(
    session: Session, asker: auth.User, approver: auth.User, version: str = "1.0"
) -> registry.RegisteredModel:
    """A model with passing evidence, asked for by one person and approved by another."""
    model = _register(session, version, fairness=PASSED, model_card=CARD)
    registry.request_promotion(session, model, by=asker)
    registry.approve_promotion(session, model, by=approver)
    return model


@pytest.fixture
def people(make_user: Callable[..., auth.User]) -> tuple[int, int]:
    return make_user("asker", "admin").id, make_user("approver", "admin").id


def test_register_validates_and_refuses_duplicates(engine: Engine) -> None:
    with transaction(engine) as session:
        model = _register(session)
        assert model.status == "candidate"
    with pytest.raises(Conflict), transaction(engine) as session:
        _register(session)
    with pytest.raises(InvalidInput, match="SHA-256"), transaction(engine) as session:
        _register(session, version="2.0", training_data_digest="not-a-digest")


def test_promotion_needs_fairness_pass_and_a_model_card(
    engine: Engine, people: tuple[int, int]
) -> None:
    asker_id, _ = people
    with transaction(engine) as session:
        model = _register(session)
        asker = session.get(auth.User, asker_id)
        with pytest.raises(InvalidInput) as refused:
            registry.request_promotion(session, model, by=asker)
        assert "fairness audit has not passed" in refused.value.message
        assert "model card lacks purpose" in refused.value.message
        registry.attach_evidence(session, model, fairness={"verdict": "fail"}, model_card=CARD)
        with pytest.raises(InvalidInput, match="verdict: fail"):
            registry.request_promotion(session, model, by=asker)
        registry.attach_evidence(session, model, fairness={"verdict": "insufficient evidence"})
        with pytest.raises(InvalidInput, match="insufficient evidence"):
            registry.request_promotion(session, model, by=asker)


def test_four_eyes_promotion_retires_the_old_live_version(
    engine: Engine, people: tuple[int, int]
) -> None:
    asker_id, approver_id = people
    with transaction(engine) as session:
        asker, approver = session.get(auth.User, asker_id), session.get(auth.User, approver_id)
        first = _register(session, "1.0", fairness=PASSED, model_card=CARD)
        registry.request_promotion(session, first, by=asker)
        with pytest.raises(Forbidden, match="four eyes"):
            registry.approve_promotion(session, first, by=asker)
        registry.approve_promotion(session, first, by=approver)
        assert registry.live(session, "triage") is first

        second = _register(session, "2.0", fairness=PASSED, model_card=CARD)
        registry.start_shadow(session, second, by=asker)
        registry.request_promotion(session, second, by=approver)
        registry.approve_promotion(session, second, by=asker)
        assert registry.live(session, "triage") is second
        assert first.status == "retired" and first.retired_at is not None
    with Session(engine) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        assert actions.count("model.promoted") == 2 and "model.retired" in actions
        assert verify(session).ok


def test_database_allows_one_live_version_per_model(engine: Engine) -> None:
    with transaction(engine) as session:
        _register(session, "1.0")
        _register(session, "2.0")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE registered_models SET status = 'live'"))


def test_stop_switch_withdraws_a_live_model_at_once(
    engine: Engine, people: tuple[int, int]
) -> None:
    asker_id, approver_id = people
    with transaction(engine) as session:
        asker, approver = session.get(auth.User, asker_id), session.get(auth.User, approver_id)
        model = _live(session, asker, approver, "1.0")
        with pytest.raises(InvalidInput):
            registry.withdraw(session, model, by=asker, reason="  ")
        registry.withdraw(session, model, by=asker, reason="Complaints about wrong triage")
        assert registry.live(session, "triage") is None
        assert model.withdrawn_reason == "Complaints about wrong triage"
        with pytest.raises(Conflict):
            registry.withdraw(session, model, by=asker, reason="again")


def test_shadow_outputs_are_stored_and_agreement_reported(
    engine: Engine, people: tuple[int, int]
) -> None:
    asker_id, approver_id = people
    with transaction(engine) as session:
        asker, approver = session.get(auth.User, asker_id), session.get(auth.User, approver_id)
        current = _live(session, asker, approver, "1.0")
        candidate = _register(session, "2.0")
        with pytest.raises(Conflict):  # not in shadow yet
            registry.record_shadow(
                session,
                candidate,
                input_digest=DIGEST,
                shadow_output={"outcome": "a"},
                live_output=None,
                live_model=None,
            )
        registry.start_shadow(session, candidate, by=asker)
        for shadow, live in [
            ("urgent", "urgent"),
            ("routine", "urgent"),
            ("urgent", "urgent"),
            ("urgent", None),
        ]:
            registry.record_shadow(
                session,
                candidate,
                input_digest=DIGEST,
                shadow_output={"outcome": shadow},
                live_output={"outcome": live} if live else None,
                live_model=current,
            )
        report = registry.agreement(session, candidate)
    assert report == {"outputs": 4, "compared": 3, "agreed": 2, "agreement_rate": 2 / 3}


def test_evidence_is_frozen_once_live(engine: Engine, people: tuple[int, int]) -> None:
    asker_id, approver_id = people
    with transaction(engine) as session:
        asker, approver = session.get(auth.User, asker_id), session.get(auth.User, approver_id)
        model = _live(session, asker, approver, "1.0")
        with pytest.raises(Conflict, match="register a new version"):
            registry.attach_evidence(session, model, fairness={"verdict": "fail"})


def test_registry_pages_enforce_four_eyes(
    client,
    engine: Engine,
    make_user: Callable[..., auth.User],  # type: ignore[no-untyped-def]
) -> None:
    from conftest import post_form, sign_in

    make_user("ana", "analyst")
    make_user("audrey", "auditor")
    with transaction(engine) as session:
        model_id = _register(session, fairness=PASSED, model_card=CARD).id
    sign_in(client, "ana")
    assert "triage" in client.get("/models").text
    page = f"/models/{model_id}"
    assert post_form(client, f"{page}/request", {}, page=page).status_code == 303
    own = post_form(client, f"{page}/approve", {}, page=page)
    assert own.status_code == 403 and "four eyes" in own.text
    missing = post_form(client, f"{page}/withdraw", {"reason": ""}, page=page)
    assert missing.status_code == 422 and "reason for withdrawing" in missing.text
    client.cookies.clear()
    sign_in(client, "audrey")
    assert client.get(page).status_code == 200
    assert post_form(client, f"{page}/approve", {}, page=page).status_code == 403  # read-only
    with Session(engine) as session:
        assert session.get(registry.RegisteredModel, model_id).status == "candidate"


def test_cli_lists_models(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from townhall.cli import app as cli
    from townhall.settings import get_settings

    with transaction(engine) as session:
        _register(session, fairness=PASSED)
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["models", "list", "--json"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["name"] == "triage" and rows[0]["fairness"] == "pass"
