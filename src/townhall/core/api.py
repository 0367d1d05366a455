"""Core JSON API (/api/v1) and the operational endpoints (/healthz, /readyz, /metrics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from townhall.core import audit, review
from townhall.core.auth import User
from townhall.core.db import ping
from townhall.core.decisions import Status
from townhall.core.errors import TownhallError
from townhall.core.permissions import (
    AUDIT_READ,
    DECISIONS_READ,
    DECISIONS_REVIEW,
    METRICS_READ,
    PUBLIC,
    STAFF,
    known_permissions,
)
from townhall.core.schemas import (
    AuditVerifyRead,
    DecisionAccept,
    DecisionOverride,
    DecisionPage,
    DecisionRead,
    ErrorRead,
    HealthRead,
    UserRead,
)
from townhall.core.web import SessionDep, requires


class UnsupportedMediaType(TownhallError):
    status_code = 415
    code = "unsupported_media_type"


def json_only(request: Request) -> None:
    """Bodies of API writes must be JSON; anything else is refused before it is read."""
    if request.method in {"POST", "PUT", "PATCH"}:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise UnsupportedMediaType(
                "Send the request body as JSON (Content-Type: application/json)."
            )


ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorRead, "description": text}
    for code, text in {
        400: "Bad request",
        401: "Not signed in or token not valid",
        403: "Permission refused",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        415: "Body is not JSON",
        422: "Invalid input",
        429: "Too many requests",
        503: "Database unavailable",
    }.items()
}

api = APIRouter(prefix="/api/v1", responses=ERRORS, dependencies=[Depends(json_only)])
ops = APIRouter()

Reader = Annotated[User, requires(DECISIONS_READ)]
Reviewer = Annotated[User, requires(DECISIONS_REVIEW)]


@ops.get(
    "/healthz", response_model=HealthRead, dependencies=[requires(PUBLIC)], tags=["operations"]
)
def healthz() -> HealthRead:
    """The process is up."""
    return HealthRead(status="ok")


@ops.get(
    "/readyz",
    response_model=HealthRead,
    dependencies=[requires(PUBLIC)],
    responses={503: {"model": HealthRead}},
    tags=["operations"],
)
def readyz(request: Request) -> Response:
    """The process can reach its database."""
    try:
        ping(request.app.state.engine)
    except SQLAlchemyError:
        body = HealthRead(status="unavailable", checks={"database": "unreachable"})
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthRead(status="ok", checks={"database": "ok"}).model_dump())


@ops.get("/metrics", dependencies=[requires(METRICS_READ)], include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@api.get("/me", response_model=UserRead, tags=["accounts"])
def me(user: Annotated[User, requires(STAFF)]) -> UserRead:
    """Who the token or session belongs to, and what they may do."""
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        permissions=sorted(p for p in known_permissions() if user.can(p)),
        teams=sorted(team.slug for team in user.teams),
    )


@api.get("/decisions", response_model=DecisionPage, tags=["decisions"])
def list_decisions(
    session: SessionDep,
    user: Reader,
    status: Status | None = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DecisionPage:
    page = review.queue(session, user, status=status, service=service, limit=limit, offset=offset)
    return DecisionPage(
        items=[DecisionRead.model_validate(d) for d in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@api.get("/decisions/{decision_id}", response_model=DecisionRead, tags=["decisions"])
def get_decision(session: SessionDep, user: Reader, decision_id: str) -> DecisionRead:
    return DecisionRead.model_validate(review.get(session, user, decision_id))


@api.post("/decisions/{decision_id}/accept", response_model=DecisionRead, tags=["decisions"])
def accept_decision(
    session: SessionDep, user: Reviewer, decision_id: str, body: DecisionAccept
) -> DecisionRead:
    return DecisionRead.model_validate(
        review.accept(session, user, decision_id, reason=body.reason)
    )


@api.post("/decisions/{decision_id}/override", response_model=DecisionRead, tags=["decisions"])
def override_decision(
    session: SessionDep, user: Reviewer, decision_id: str, body: DecisionOverride
) -> DecisionRead:
    return DecisionRead.model_validate(
        review.override_outcome(
            session, user, decision_id, outcome=body.outcome, reason=body.reason
        )
    )


@api.get("/audit/verify", response_model=AuditVerifyRead, tags=["audit"])
def verify_audit(
    session: SessionDep, _user: Annotated[User, requires(AUDIT_READ)]
) -> AuditVerifyRead:
    result = audit.verify(session)
    return AuditVerifyRead(
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
    )
