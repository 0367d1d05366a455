"""The demo council's router: trained on data/demo_messages.csv when no router exists yet, and
registered in the model registry, so `townhall demo` routes messages from the start."""

from __future__ import annotations

from sqlalchemy.orm import Session

from townhall.services.routing import persist
from townhall.services.routing.data import TRIAGE
from townhall.services.routing.demo_data import OUT as DEMO_MESSAGES
from townhall.services.routing.service import (
    model_version,
    register_router,
    registered_as,
    train_router,
)
from townhall.settings import Settings


def load_demo(session: Session, settings: Settings) -> str:
    """Train (only if missing or unreadable) and register (only if not yet); one line back."""
    path = settings.routing_model_path
    trained = False
    try:
        meta = persist.read_metadata(path)
        if not path.is_file() or persist.file_digest(path) != meta["artifact_sha256"]:
            raise persist.RoutingModelError(f"{path}: missing or changed")
    except persist.RoutingModelError:
        meta = train_router(
            DEMO_MESSAGES, out=path, target_precision=settings.routing_target_precision
        )
        trained = True
    name = settings.routing_model_name
    registered = registered_as(session, name=name, digest=meta["artifact_sha256"])
    if registered is None:
        registered = register_router(
            session, model=path, name=name, version=model_version(meta), by=None
        )
        version, status = registered["version"], registered["status"]
    else:
        version, status = registered.version, registered.status
    validation = meta["validation"]
    teams = [c for c in meta["classes"] if c != TRIAGE]
    return (
        f"router {'trained' if trained else 'ready'} at {path} "
        f"({len(teams)} teams; routes {validation['coverage']:.0%} of validation "
        f"messages at precision {validation['routed_precision'] or 0:.2f}); "
        f"registered as {name} {version} ({status})"
    )
