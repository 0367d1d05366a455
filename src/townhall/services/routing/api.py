"""The routing JSON API: route one citizen message to a team, to triage, or to another council."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from townhall.core.api import json_only
from townhall.core.auth import User
from townhall.core.schemas import StrictInput
from townhall.core.web import SessionDep, requires
from townhall.services.routing.dispatch import route_and_record
from townhall.services.routing.permissions import ROUTING_ROUTE
from townhall.services.routing.service import MAX_MESSAGE_CHARS

router = APIRouter(prefix="/routing", tags=["routing"], dependencies=[Depends(json_only)])
Sender = Annotated[User, requires(ROUTING_ROUTE)]


class RouteInput(StrictInput):
    text: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, description="The citizen's message."
    )
    postcode: str | None = Field(
        default=None,
        max_length=16,
        description="The address's postcode, if known; else any postcode in the message is used.",
    )


class AuthorityRead(BaseModel):
    code: str
    name: str


class SignpostRead(AuthorityRead):
    message: str


class RouteRead(BaseModel):
    team: str | None
    confidence: float
    abstained: bool
    reason: str
    evidence: list[str]
    suggested_team: str | None
    decision_id: str
    queue: str | None
    postcode: str | None
    local_authority: AuthorityRead | None
    signpost: SignpostRead | None


@router.post("/route", response_model=RouteRead)
def route(body: RouteInput, request: Request, session: SessionDep, user: Sender) -> RouteRead:
    """Send one message to the team that handles it, or to people, or to another council.

    `team` is set when the router is confident; otherwise `abstained` is true and the message
    waits in the triage team's queue (`reason`: `low_confidence`, `out_of_scope`, `no_model`,
    `model_withdrawn`). A postcode in another council's area gives a `signpost` naming that
    council instead. `evidence` are the words that pointed to `suggested_team`. Every route is a
    proposed decision (`decision_id`) in the review queue of `queue`, where a caseworker can
    re-route it with a reason.
    """
    routed = route_and_record(
        session,
        text=body.text,
        postcode=body.postcode,
        settings=request.app.state.settings,
        actor=f"user:{user.id}",
    )
    return RouteRead.model_validate(routed.as_dict())
