"""Transparency records: system cards to ATRS Tier 1 and 2 in JSON, CSV and HTML, kept current."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from conftest import REPO, make_settings
from townhall.app import create_app
from townhall.core import auth, registry
from townhall.core.db import transaction
from townhall.governance import transparency

EXAMPLE = REPO / "docs" / "system-card-example.yaml"
CARD = {
    "purpose": "Prioritise missed bins",
    "owner": "Waste team",
    "training_data": "Reports 2024-2026",
    "limitations": "Household waste only",
}


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    folder = tmp_path / "transparency"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "missed-bin-triage.yaml")
    return folder


@pytest.fixture
def public(database_url: str, cards: Path) -> TestClient:
    app = create_app(make_settings(database_url, transparency_dir=cards))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _go_live(engine: Engine, users: tuple[int, int], version: str) -> None:
    with transaction(engine) as session:
        model = registry.register(
            session,
            name="missed-bin-priority",
            version=version,
            training_data_digest=hashlib.sha256(version.encode()).hexdigest(),
            metrics={"accuracy": 0.91},
            fairness={"verdict": "pass"},
            model_card=CARD,
        )
        registry.request_promotion(session, model, by=session.get(auth.User, users[0]))
        registry.approve_promotion(session, model, by=session.get(auth.User, users[1]))


def test_the_example_card_is_valid_and_renders_both_tiers(cards: Path) -> None:
    card = transparency.load_cards(cards)["missed-bin-triage"]
    assert transparency.tier1(card)["tier"] == 1
    assert transparency.tier1(card)["phase"] == "beta"


def test_record_follows_the_live_model_version(
    public: TestClient, cards: Path, make_user: Callable[..., auth.User]
) -> None:
    engine = public.app.state.engine  # type: ignore[attr-defined]
    users = (make_user("ana", "analyst").id, make_user("admin1", "admin").id)
    before = public.get("/transparency/missed-bin-triage.json").json()
    assert before["tier_2"]["tool_specification"]["models"][0]["status"].startswith("not live")
    _go_live(engine, users, "1.0")
    assert (
        public.get("/transparency/missed-bin-triage.json").json()["tier_2"]["tool_specification"][
            "models"
        ][0]["version"]
        == "1.0"
    )
    _go_live(engine, users, "1.1")
    record = public.get("/transparency/missed-bin-triage.json").json()
    model = record["tier_2"]["tool_specification"]["models"][0]
    assert model["version"] == "1.1" and model["fairness_audit"] == "pass"
    page = public.get("/transparency/missed-bin-triage")
    assert "Missed bin report triage" in page.text and "version 1.1" in page.text
    card_page = public.get(model["model_card"])
    assert card_page.status_code == 200 and "Household waste only" in card_page.text


def test_csv_has_one_row_per_field(public: TestClient) -> None:
    response = public.get("/transparency/missed-bin-triage.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["field", "value"]
    fields = dict(rows[1:])
    assert fields["tier_1.organisation"] == "Exampleshire Council"
    assert fields["tier_2.data[0].sensitive_attributes[0]"].startswith("disability")


def test_public_register_needs_no_sign_in(public: TestClient) -> None:
    register = public.get("/transparency")
    assert register.status_code == 200 and "/transparency/missed-bin-triage" in register.text
    assert public.get("/transparency/nothing-here").status_code == 404
    assert public.get("/transparency/models/none/1").status_code == 404


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("phase: beta", "phase: live-ish"), "phase"),
        (
            lambda text: text.replace("contact_email: transparency@", "contact_email: nobody-"),
            "contact_email",
        ),
        (lambda text: text + "\nsurprise: field\n", "surprise"),
        (lambda text: "service: [unclosed", "cannot be read as YAML"),
    ],
)
def test_bad_cards_are_clear_errors_naming_the_file(
    cards: Path, edit: Callable[[str], str], message: str
) -> None:
    path = cards / "missed-bin-triage.yaml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(transparency.CardError, match=message) as error:
        transparency.load_cards(cards)
    assert "missed-bin-triage.yaml" in error.value.message


def test_every_service_card_is_on_the_register_and_a_local_card_replaces_its_own(
    public: TestClient, cards: Path
) -> None:
    from townhall.services import SERVICES

    shipped = [s for s in SERVICES if s.system_card is not None]
    assert shipped, "no service ships a system card"
    page = public.get("/transparency")
    for service in shipped:
        card = transparency.load_card(service.system_card)  # type: ignore[arg-type]
        assert card.service == service.name
        assert card.name in page.text
        assert public.get(f"/transparency/{service.name}.json").status_code == 200

    # The body's own card for the assistant wins over the one the package ships.
    own = (
        (cards / "missed-bin-triage.yaml")
        .read_text()
        .replace("service: missed-bin-triage", "service: assistant")
    )
    (cards / "assistant.yaml").write_text(own)
    record = public.get("/transparency/assistant.json").json()
    assert record["tier_1"]["name"] == "Missed bin report triage"
