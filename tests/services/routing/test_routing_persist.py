"""Saving and loading a router: the same answers after a round trip, and a changed file refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from townhall.services.routing.persist import RoutingModelError, load, save, sidecar

pytest_plugins = ("routing_fixtures",)


@pytest.fixture
def demo(demo_messages):  # type: ignore[no-untyped-def]
    return demo_messages


def test_a_saved_router_loads_and_answers_the_same(tmp_path: Path, demo, demo_router) -> None:
    path = tmp_path / "router.joblib"
    meta = save(demo_router, path, training_data_digest=demo.digest, metrics={"accuracy": 0.99})
    loaded, read = load(path)
    assert read == meta
    assert np.array_equal(
        loaded.predict_proba(demo.texts[:50]), demo_router.predict_proba(demo.texts[:50])
    )
    assert loaded.route("my bin was not collected") == demo_router.route("my bin was not collected")


def test_the_sidecar_records_what_the_registry_needs(tmp_path: Path, demo, demo_router) -> None:
    path = tmp_path / "router.joblib"
    save(demo_router, path, training_data_digest=demo.digest, metrics={"accuracy": 0.99})
    meta = json.loads(sidecar(path).read_text())
    assert meta["training_data_sha256"] == demo.digest
    assert len(meta["artifact_sha256"]) == 64
    assert meta["classes"] == list(demo_router.classes_)
    assert meta["threshold"] == demo_router.threshold_
    assert meta["params"]["target_precision"] == 0.97
    assert meta["metrics"] == {"accuracy": 0.99}
    assert meta["kind"] == "tfidf" and meta["created_at"] and meta["sklearn_version"]


def test_a_changed_model_file_is_refused_before_it_is_unpickled(
    tmp_path: Path, demo, demo_router
) -> None:
    path = tmp_path / "router.joblib"
    save(demo_router, path, training_data_digest=demo.digest)
    with path.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(RoutingModelError, match="does not match"):
        load(path)


def test_a_model_without_its_sidecar_is_refused(tmp_path: Path, demo, demo_router) -> None:
    path = tmp_path / "router.joblib"
    save(demo_router, path, training_data_digest=demo.digest)
    sidecar(path).unlink()
    with pytest.raises(RoutingModelError, match="no metadata"):
        load(path)
    with pytest.raises(RoutingModelError, match="no such model"):
        load(tmp_path / "missing.joblib")
