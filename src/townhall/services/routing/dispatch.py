"""Route one citizen message end to end: where it is about, which team should take it, and the
decision record that puts it in that team's review queue.

Three outcomes, each a proposed decision a person can accept or re-route:

- a team: the router is confident and the message is about the council's own area;
- triage: the router abstained (not confident enough, or out of scope), or has no model to run
  (none trained, or withdrawn in the registry): it goes to the triage team's queue;
- signposted: the message's postcode lies in another council's area, so it belongs there; the
  decision (in the triage queue, for a person to check) names that council.

The message is stored only after personal data is redacted (reviewers read it, and re-routes
train the next router on it); its postcode is kept only as the district (SW1A), never whole.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, decisions
from townhall.core.auth import Team
from townhall.core.errors import InvalidInput
from townhall.governance import privacy
from townhall.services.routing import place as places
from townhall.services.routing.data import TRIAGE
from townhall.services.routing.model import Route
from townhall.services.routing.service import (
    MAX_MESSAGE_CHARS,
    ROUTE_DECISION,
    CurrentRouter,
    current_router,
)
from townhall.settings import Settings

log = logging.getLogger("townhall.routing")
SERVICE = "routing"
WHY = {
    "confident": "confident",
    "low_confidence": "not confident enough",
    "out_of_scope": "out of scope",
    "no_model": "no router has been trained",
    "model_withdrawn": "the router has been withdrawn",
    "other_authority": "another council's area",
}


@dataclass(frozen=True)
class Routed:
    """What the API returns for one message."""

    team: str | None  # the team that takes it; None when people triage it or it is signposted
    confidence: float
    abstained: bool  # the router left it to people (triage)
    reason: str  # a key of WHY
    evidence: list[str]
    suggested_team: str | None  # the router's best team, even when it abstained
    decision_id: str
    queue: str | None  # the team whose review queue holds the decision
    postcode: str | None
    local_authority: dict[str, str] | None
    signpost: dict[str, str] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_message(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInput("The message must be text.", field="text")
    message = text.strip()
    if not message:
        raise InvalidInput("Enter the message to route.", field="text")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"The message must be {MAX_MESSAGE_CHARS:,} characters or fewer.", field="text"
        )
    return message


def _team(session: Session, slug: str | None) -> Team | None:
    if not slug:
        return None
    return session.scalar(select(Team).where(Team.slug == slug))


def _options(session: Session, current: CurrentRouter) -> list[str]:
    """The teams a reviewer may re-route to: the router's, else every team there is."""
    if current.router is not None:
        teams = [str(c) for c in current.router.classes_]
    else:
        teams = list(session.scalars(select(Team.slug).order_by(Team.slug)))
    return sorted(set(teams) | {TRIAGE})


def route_and_record(
    session: Session,
    *,
    text: Any,
    postcode: str | None = None,
    settings: Settings,
    actor: str = audit.SYSTEM,
) -> Routed:
    """Place and route one message, and record the route as a decision in the right queue."""
    message = clean_message(text)
    ours = set(settings.routing_local_authorities)
    where = places.locate(
        message,
        postcode=postcode,
        register=places.register_at(settings.routing_postcode_index),
        ours=ours,
    )
    current = current_router(
        session, model=settings.routing_model_path, name=settings.routing_model_name
    )
    if current.router is None:
        log.warning("routing %s: every message goes to triage", current.why_people)
    route = current.router.route(message) if current.router is not None else None
    authority = where.authority if where is not None else None
    elsewhere = authority is not None and bool(ours) and authority.code not in ours

    signpost = None
    if elsewhere and authority is not None:
        team, abstained, reason = None, False, "other_authority"
        outcome = f"signpost: {authority.name}"
        signpost = {
            **authority.as_dict(),
            "message": f"The address is in {authority.name}, not in the area "
            f"{settings.organisation_name} serves: the message is for {authority.name}.",
        }
    elif route is None:
        team, abstained, reason, outcome = None, True, current.why_people, TRIAGE
    elif route.team is None:
        team, abstained, reason, outcome = None, True, route.reason, TRIAGE
    else:
        team, abstained, reason, outcome = route.team, False, route.reason, route.team
    # A team the router knows but this council has not set up waits in triage too.
    queue = _team(session, team) or _team(session, settings.routing_triage_team)
    redacted = privacy.redact(message)
    decision = decisions.record(
        session,
        service=SERVICE,
        decision_type=ROUTE_DECISION,
        subject_ref=f"message:{uuid.uuid4().hex}",
        model_name=settings.routing_model_name,
        model_version=current.version,
        inputs={"text": message, "postcode": postcode},
        output={
            "outcome": outcome,
            "team": team,
            "suggested_team": route.suggested_team if route else None,
            "confidence": route.confidence if route else 0.0,
            "reason": reason,
            "evidence": list(route.evidence) if route else [],
            "message": redacted,
            "options": _options(session, current),
            "triage_team": settings.routing_triage_team,
            "place": _place_record(where),
            "signpost": signpost,
        },
        confidence=route.confidence if route else 0.0,
        explanation={"reasons": _reasons(route, reason, where, elsewhere, settings)},
        summary=_summary(outcome, team, reason, route, redacted),
        team_id=queue.id if queue is not None else None,
        actor=actor,
    )
    return Routed(
        team=team,
        confidence=route.confidence if route else 0.0,
        abstained=abstained,
        reason=reason,
        evidence=list(route.evidence) if route else [],
        suggested_team=route.suggested_team if route else None,
        decision_id=decision.id,
        queue=queue.slug if queue is not None else None,
        postcode=where.postcode if where is not None else None,
        local_authority=authority.as_dict() if authority is not None else None,
        signpost=signpost,
    )


def _place_record(where: places.Place | None) -> dict[str, Any] | None:
    if where is None:
        return None
    return {
        "postcode_district": where.postcode.split(" ")[0],
        "local_authority": where.authority.as_dict() if where.authority else None,
    }


def _reasons(
    route: Route | None,
    reason: str,
    where: places.Place | None,
    elsewhere: bool,
    settings: Settings,
) -> list[dict[str, str]]:
    reasons = []
    if route is None:
        reasons.append({"text": f"People decide: {WHY[reason]}."})
    else:
        reasons.append({"text": f"Confidence {route.confidence:.2f}: {WHY[route.reason]}"})
        if route.evidence:
            reasons.append(
                {"text": f"Words pointing to {route.suggested_team}: " + ", ".join(route.evidence)}
            )
    if where is not None and where.authority is not None:
        district = where.postcode.split(" ")[0]
        text = f"Postcode district {district} is in {where.authority.name}"
        if elsewhere:
            text += f", outside {settings.organisation_name}'s area: signposted there"
        reasons.append({"text": text + "."})
    return reasons


def _summary(outcome: str, team: str | None, reason: str, route: Route | None, message: str) -> str:
    if outcome.startswith("signpost"):
        head = f"Signposted to {outcome.removeprefix('signpost: ')}"
    elif team is not None:
        head = f"Routed to {team}"
    else:
        guess = f"; best guess {route.suggested_team}" if route is not None else ""
        head = f"Sent to triage ({WHY[reason]}{guess})"
    return f"{head}: {message}"[:300]
