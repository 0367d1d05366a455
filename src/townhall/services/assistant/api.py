"""The assistant's JSON API: ask, rate, hand off (public) and content gaps (staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StrictBool

from townhall.core.api import json_only
from townhall.core.auth import User
from townhall.core.permissions import PUBLIC
from townhall.core.schemas import StrictInput
from townhall.core.web import SessionDep, requires
from townhall.services.assistant import answers, gaps
from townhall.services.assistant.permissions import ASSISTANT_MANAGE
from townhall.services.assistant.runtime import pipeline_for, throttle

router = APIRouter(prefix="/assistant", tags=["assistant"], dependencies=[Depends(json_only)])
Anyone = Annotated[User | None, requires(PUBLIC)]
Manager = Annotated[User, requires(ASSISTANT_MANAGE)]


class AskInput(StrictInput):
    # The pipeline applies the configured cap with a clear refusal; this bounds the body well
    # under the request size limit, so an over-long question is a 422 naming the field.
    # Whitespace is stripped first, so a blank question is refused here too.
    question: str = Field(min_length=1, max_length=20_000)
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[0-9a-f]+$")
    locale: str | None = Field(
        default=None, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )


class Citation(BaseModel):
    url: str
    title: str
    heading: str


class AskRead(BaseModel):
    answer: str
    citations: list[Citation]
    refused: bool
    reason: str
    conversation_id: str
    decision_id: str


class RateInput(StrictInput):
    decision_id: str = Field(max_length=36)
    # Strict: "no" or 0 would otherwise be read as a rating, and "yes"/"no" are easy to swap.
    helpful: StrictBool
    comment: str = Field(default="", max_length=answers.MAX_COMMENT_CHARS)


class RateRead(BaseModel):
    decision_id: str
    helpful: bool


class HandoffInput(StrictInput):
    question: str = Field(min_length=1, max_length=20_000)
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[0-9a-f]+$")
    contact: str = Field(default="", max_length=answers.MAX_CONTACT_CHARS)


class HandoffRead(BaseModel):
    reference: str
    team: str


class TopicRead(BaseModel):
    label: str
    count: int
    reasons: dict[str, int]
    examples: list[str]


@router.post("/ask", response_model=AskRead)
def ask(body: AskInput, request: Request, session: SessionDep, _user: Anyone) -> AskRead:
    """Answer a question from the published guidance, with citations, or refuse and say why.

    Send `conversation_id` from an earlier reply to ask a follow-up; an unknown one (or one
    deleted after its retention period) is a 404, so leave it out to start afresh. Every reply is
    a decision record (`decision_id`), with the question stored only after personal data is
    redacted.
    """
    throttle(request)
    reply = answers.ask(
        session,
        pipeline_for(request),
        body.question,
        conversation_id=body.conversation_id,
        locale=body.locale,
    )
    return AskRead.model_validate(reply.as_dict())


@router.post("/rate", response_model=RateRead)
def rate(body: RateInput, request: Request, session: SessionDep, _user: Anyone) -> RateRead:
    """Say whether an answer helped; comments are redacted before they are kept."""
    throttle(request)  # anonymous writes, each running redaction: bounded like questions
    rating = answers.rate(session, body.decision_id, helpful=body.helpful, comment=body.comment)
    return RateRead(decision_id=rating.decision_id, helpful=rating.helpful)


@router.post("/handoff", response_model=HandoffRead, status_code=201)
def handoff(
    body: HandoffInput, request: Request, session: SessionDep, _user: Anyone
) -> HandoffRead:
    """Pass a question to a person in the team that owns its topic."""
    settings = request.app.state.settings
    throttle(request)
    made = answers.hand_off(
        session,
        pipeline_for(request),
        body.question,
        default_team=settings.assistant_default_team,
        conversation_id=body.conversation_id,
        contact=body.contact,
    )
    return HandoffRead(reference=answers.reference(made), team=made.team)


@router.get("/gaps", response_model=list[TopicRead])
def content_gaps(
    session: SessionDep,
    _user: Manager,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> list[TopicRead]:
    """Refused and unhelpful questions of the last `days`, grouped by topic, biggest first."""
    return [
        TopicRead.model_validate(t, from_attributes=True)
        for t in gaps.topics(gaps.gaps(session, days))
    ]
