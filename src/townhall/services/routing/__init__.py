"""Message routing: send each citizen message to the team that handles it, or to people.

A router is trained on labelled historical messages (data.py), as a fast TF-IDF model or a
hybrid with MiniLM embeddings (model.py, hybrid.py); its probabilities are calibrated and it
abstains below a threshold chosen for a target precision, or when a message is out of scope
(calibration.py). evaluate.py measures it; persist.py saves it with a metadata sidecar;
service.py is what the CLI (cli.py) calls. dispatch.py routes one message end to end for the
API (api.py): its place (place.py: postcode -> local authority, signposting), its team, and the
decision record in that team's review queue. Re-routes by caseworkers (reroutes.py) feed the next
training run; other services' hand-offs ask the router through the core (resolver.py).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from townhall.core.handoff import register_team_resolver
from townhall.core.review import register_override_hook
from townhall.core.service import Service
from townhall.services.routing import api, cli
from townhall.services.routing.permissions import PERMISSIONS
from townhall.services.routing.reroutes import on_override
from townhall.services.routing.resolver import resolve_team
from townhall.services.routing.service import ROUTE_DECISION
from townhall.settings import Settings

register_team_resolver(resolve_team)
register_override_hook(ROUTE_DECISION, on_override)


def _demo(session: Session, settings: Settings) -> str:
    from townhall.services.routing.demo import load_demo

    return load_demo(session, settings)


SERVICE = Service(
    name="routing",
    title="Message routing",
    description="Routes citizens' messages to teams, with abstention to a human triage queue.",
    router=api.router,
    cli=cli.app,
    permissions=PERMISSIONS,
    decision_types=(ROUTE_DECISION,),
    demo=_demo,
    system_card=Path(__file__).parent / "system_card.yaml",
)
