"""Registering a trained router in the model registry, with its metrics and file digests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from townhall.core import registry
from townhall.core.errors import Conflict
from townhall.services.routing.demo_data import OUT as DEMO
from townhall.services.routing.persist import file_digest
from townhall.services.routing.service import (
    record_route,
    register_router,
    route_message,
    train_router,
)


def test_a_trained_router_is_registered_with_its_evaluation(
    tmp_path: Path, db: Session, make_user
) -> None:
    path = tmp_path / "router.joblib"
    meta = train_router(DEMO, out=path)
    analyst = make_user("ana", "admin")
    info = register_router(db, model=path, name="routing", version="1.0", by=analyst)
    db.commit()
    assert info == {"name": "routing", "version": "1.0", "status": "candidate"}
    model = registry.get(db, "routing", "1.0")
    assert model.training_data_digest == meta["training_data_sha256"]
    assert model.metrics["threshold"] == meta["threshold"]
    assert model.metrics["validation"]["target_reached"] is True
    assert registry.artifact_location(model) == (path.resolve(), file_digest(path))
    with pytest.raises(Conflict):
        register_router(db, model=path, name="routing", version="1.0", by=analyst)


def test_route_message_uses_the_saved_model(tmp_path: Path) -> None:
    path = tmp_path / "router.joblib"
    train_router(DEMO, out=path)
    assert route_message("I got a parking ticket on Station Road", model=path).team == "parking"


def test_a_route_is_recorded_as_a_proposed_decision_without_the_text(
    tmp_path: Path, db: Session
) -> None:
    path = tmp_path / "router.joblib"
    train_router(DEMO, out=path)
    text = "My bin wasn't collected on Station Road"
    route = route_message(text, model=path)
    record = record_route(
        db, text=text, route=route, subject_ref="pseud-1", model_name="routing", model_version="1"
    )
    db.commit()
    assert record.decision_type == "routing.route" and record.output["team"] == "waste"
    assert record.summary == "Routed to waste"
    assert "bin" in record.explanation["reasons"][1]["text"]
    assert text not in str(record.output) and len(record.input_digest) == 64
