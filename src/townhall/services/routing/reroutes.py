"""Re-routes: a person overriding a routing decision with another team, and learning from it.

A caseworker re-routes on the review page (/review/{id}, or POST /api/v1/decisions/{id}/override):
the teams are offered as the outcomes to choose from, and a reason is required. The core review
runs `on_override` first, which refuses anything but one of those teams and puts the message in
the new team's queue as a fresh proposed decision, so re-routing moves the work and not only the
record. `townhall routing train DATA --with-reroutes` then adds every re-route (the redacted
message, labelled with the team a person chose) to the training data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, decisions
from townhall.core.auth import Team, User
from townhall.core.decisions import DecisionRecord, Status
from townhall.core.errors import InvalidInput
from townhall.services.routing.data import TRIAGE
from townhall.services.routing.service import ROUTE_DECISION

REROUTE_MODEL = "re-route"  # the model name on decisions a person made by re-routing


def on_override(
    session: Session, user: User, decision: DecisionRecord, final_output: dict[str, Any]
) -> None:
    """Check the new team and queue the message for it (the core's override hook)."""
    outcome = final_output.get("outcome")
    options = decision.output.get("options") or []
    if options and outcome not in options:
        raise InvalidInput(
            f"Choose the team to send this message to: one of {', '.join(options)}.",
            field="outcome",
        )
    slug = (decision.output.get("triage_team") or TRIAGE) if outcome == TRIAGE else outcome
    team = session.scalar(select(Team).where(Team.slug == slug))
    if team is None:
        return  # no such team here to queue it for: the override itself is the record
    message = decision.output.get("message", "")
    follow_on = decisions.record(
        session,
        service=decision.service,
        decision_type=ROUTE_DECISION,
        subject_ref=decision.subject_ref,
        model_name=REROUTE_MODEL,
        model_version="1",
        inputs={"rerouted_from": decision.id, "outcome": outcome},
        output={
            **{k: v for k, v in decision.output.items() if k not in ("signpost",)},
            "outcome": outcome,
            "team": None if outcome == TRIAGE else outcome,
            "reason": "re_routed",
            "rerouted_from": decision.id,
        },
        confidence=None,
        explanation={
            "reasons": [
                {
                    "text": f"Re-routed by a person from {decision.output.get('outcome')}; "
                    f"their reason is on decision {decision.id[:8]}."
                }
            ]
        },
        summary=f"Re-routed to {team.name}: {message}"[:300],
        team_id=team.id,
        actor=f"user:{user.id}",
    )
    audit.log(
        session,
        f"user:{user.id}",
        "routing.rerouted",
        f"decision:{decision.id}",
        {"to": slug, "follow_on": follow_on.id},
    )


def reroutes(session: Session) -> list[tuple[str, str]]:
    """Every re-route as a labelled message (redacted text, the team a person chose), oldest
    first."""
    rows = session.execute(
        select(DecisionRecord.output, DecisionRecord.final_output)
        .where(
            DecisionRecord.decision_type == ROUTE_DECISION,
            DecisionRecord.status == Status.OVERRIDDEN.value,
        )
        .order_by(DecisionRecord.reviewed_at, DecisionRecord.id)
    )
    examples = []
    for output, final in rows:
        message = (output or {}).get("message")
        team = (final or {}).get("outcome")
        if isinstance(message, str) and message.strip() and isinstance(team, str) and team:
            examples.append((message, team))
    return examples
