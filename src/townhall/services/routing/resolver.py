"""The routing service's answer to "which team should take this?" for other services' hand-offs.

Registered with the core (townhall.core.handoff) when the service is loaded. It routes with the
router at settings.routing_model_path; when that router abstains, is missing or has been
withdrawn it says nothing, and the asking service keeps its own fallback.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from townhall.services.routing.service import MAX_MESSAGE_CHARS, current_router


def resolve_with_router(
    session: Session, text: str, *, model: Path, name: str
) -> tuple[str, str] | None:
    """(team, evidence) when the router at `model` is confident about `text`, else None."""
    current = current_router(session, model=model, name=name)
    message = text.strip()[:MAX_MESSAGE_CHARS]
    if current.router is None or not message:
        return None
    route = current.router.route(message)
    if route.team is None:
        return None
    terms = ", ".join(route.evidence)
    return route.team, (
        f"router {name} {current.version}, confidence {route.confidence:.2f}"
        + (f" ({terms})" if terms else "")
    )


def resolve_team(session: Session, text: str) -> tuple[str, str] | None:
    """The registered resolver: the process's settings name the router."""
    from pydantic import ValidationError

    from townhall.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except (SettingsError, ValidationError):
        return None  # a process without usable settings has no router to ask
    return resolve_with_router(
        session, text, model=settings.routing_model_path, name=settings.routing_model_name
    )
