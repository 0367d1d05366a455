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
    current_router,
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


def test_the_current_router_is_named_by_its_registered_version(
    tmp_path: Path, db: Session, make_user
) -> None:
    path = tmp_path / "router.joblib"
    meta = train_router(DEMO, out=path)
    unregistered = current_router(db, model=path, name="routing")
    assert unregistered.router is not None and unregistered.status == "unregistered"
    assert unregistered.version == f"{meta['created_at'][:10]}.{meta['artifact_sha256'][:8]}"
    register_router(db, model=path, name="routing", version="2.0", by=make_user("ada", "admin"))
    registered = current_router(db, model=path, name="routing")
    assert (registered.version, registered.status) == ("2.0", "candidate")
    missing = current_router(db, model=tmp_path / "none.joblib", name="routing")
    assert missing.router is None and missing.why_people == "no_model"


def test_training_adds_extra_examples_only_for_teams_the_file_has(tmp_path: Path) -> None:
    plain = train_router(DEMO, out=tmp_path / "plain.joblib")
    extra = [
        ("the gritter never came down our road in the snow", "customer-services"),
        ("the gritter missed our hill again", "customer-services"),
        ("who looks after the castle ruins", "heritage"),
    ]
    meta = train_router(DEMO, out=tmp_path / "more.joblib", extra=extra)
    assert meta["extra_examples"] == {
        "found": 3,
        "used": 2,
        "teams_not_in_training_data": ["heritage"],
    }
    assert meta["team_counts"]["customer-services"] == plain["team_counts"]["customer-services"] + 2
    assert "heritage" not in meta["classes"]
    # The recorded digest names the file and the examples, so the two models differ in it.
    assert meta["training_data_sha256"] != plain["training_data_sha256"]
