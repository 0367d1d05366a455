"""The demo council's router: trained once, registered once, and its teams are the demo teams."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from conftest import make_settings
from townhall.core import registry
from townhall.core.demo import TEAMS
from townhall.services.routing import SERVICE
from townhall.services.routing.data import TRIAGE, load_messages
from townhall.services.routing.demo_data import OUT as DEMO
from townhall.services.routing.persist import read_metadata
from townhall.services.routing.service import load_router
from townhall.settings import Settings


def test_every_demo_message_is_labelled_with_a_demo_team_or_triage() -> None:
    slugs = {slug for slug, _, _ in TEAMS}
    labels = set(load_messages(DEMO).teams)
    assert labels - {TRIAGE} <= slugs
    assert len(labels) == 10 and len(load_messages(DEMO)) >= 1000
    # Abstentions and signposts need a queue: the triage team is a demo team.
    assert Settings(demo_mode=True).routing_triage_team in slugs


def test_the_demo_trains_and_registers_a_router_once(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    model = tmp_path / "models" / "routing.joblib"
    settings = make_settings(database_url, routing_model_path=model)
    assert SERVICE.demo is not None
    first = SERVICE.demo(db, settings)
    assert model.is_file() and first.startswith("router trained at ")
    meta = read_metadata(model)
    [registered] = registry.versions(db, "routing")
    assert registered.status == "candidate"
    assert registered.training_data_digest == meta["training_data_sha256"]
    assert registry.artifact_location(registered) == (model.resolve(), meta["artifact_sha256"])
    assert f"registered as routing {registered.version} (candidate)" in first

    stamp = model.stat().st_mtime_ns
    again = SERVICE.demo(db, settings)
    assert again.startswith("router ready at ") and model.stat().st_mtime_ns == stamp
    assert len(registry.versions(db, "routing")) == 1


def test_a_changed_model_file_is_trained_again(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    model = tmp_path / "routing.joblib"
    settings = make_settings(database_url, routing_model_path=model)
    assert SERVICE.demo is not None
    SERVICE.demo(db, settings)
    model.write_bytes(b"not a model")
    assert SERVICE.demo(db, settings).startswith("router trained at ")
    assert load_router(model)[0].route("my bin was missed").team == "waste"
    # Training is deterministic: the same bytes again, so the registered version still fits.
    [registered] = registry.versions(db, "routing")
    assert registry.artifact_location(registered)[1] == read_metadata(model)["artifact_sha256"]
