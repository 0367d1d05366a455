"""The generic review queue: staff accept or override proposed decisions, with reasons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from townhall.core import review
from townhall.core.auth import User
from townhall.core.decisions import Status
from townhall.core.errors import InvalidInput
from townhall.core.permissions import DECISIONS_READ, DECISIONS_REVIEW
from townhall.core.web import SessionDep, form_errors, requires, templates

router = APIRouter(prefix="/review", default_response_class=HTMLResponse, include_in_schema=False)

Reader = Annotated[User, requires(DECISIONS_READ)]
Reviewer = Annotated[User, requires(DECISIONS_REVIEW)]
PAGE_SIZE = 25


@router.get("")
def review_queue(
    request: Request,
    session: SessionDep,
    user: Reader,
    status: Annotated[Status | None, Query()] = Status.PROPOSED,
    service: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    result = review.queue(
        session,
        user,
        status=status,
        service=service or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return templates.TemplateResponse(
        request,
        "review/list.html",
        {
            "title": "Decisions to review",
            "page": result,
            "status": status,
            "service": service,
            "page_number": page,
            "statuses": list(Status),
            "last_page": max(1, -(-result.total // PAGE_SIZE)),
        },
    )


def _render_detail(
    request: Request,
    session: SessionDep,
    user: User,
    decision_id: str,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    decision = review.get(session, user, decision_id)
    options = decision.output.get("options") if isinstance(decision.output, dict) else None
    return templates.TemplateResponse(
        request,
        "review/detail.html",
        {
            "title": f"Decision {decision.id[:8]}",
            "decision": decision,
            "options": options if isinstance(options, list) else None,
            "can_review": user.can(DECISIONS_REVIEW),
            "errors": errors or {},
            "form": form or {},
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/{decision_id}")
def review_detail(
    request: Request, session: SessionDep, user: Reader, decision_id: str
) -> Response:
    return _render_detail(request, session, user, decision_id)


@router.post("/{decision_id}/accept")
def review_accept(
    request: Request,
    session: SessionDep,
    user: Reviewer,
    decision_id: str,
    reason: Annotated[str, Form(max_length=review.MAX_REASON)] = "",
) -> Response:
    review.accept(session, user, decision_id, reason=reason)
    return RedirectResponse(f"/review/{decision_id}?done=accepted", status_code=303)


@router.post("/{decision_id}/override")
def review_override(
    request: Request,
    session: SessionDep,
    user: Reviewer,
    decision_id: str,
    outcome: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=review.MAX_REASON + 1000)] = "",
) -> Response:
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = "Enter the reason for overriding this decision"
    try:
        review.override_outcome(session, user, decision_id, outcome=outcome, reason=reason)
    except InvalidInput as exc:
        errors = {**form_errors(exc), **errors}
        return _render_detail(
            request,
            session,
            user,
            decision_id,
            errors=errors,
            form={"outcome": outcome, "reason": reason},
            status=422,
        )
    return RedirectResponse(f"/review/{decision_id}?done=overridden", status_code=303)
