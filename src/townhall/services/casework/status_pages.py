"""The citizen's status page: a case's progress by its reference, and with the postcode or email
address given on the form, the reasons for a decision, a reply to a request for information and
a request for a review of a refusal (a new case, linked to the refused one).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townhall.core.auth import User
from townhall.core.errors import Conflict, InvalidInput, NotFound
from townhall.core.permissions import PUBLIC
from townhall.core.web import SessionDep, SettingsDep, requires, templates
from townhall.services.casework import actions, views
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.staff_pages import field_messages
from townhall.services.casework.validation import long_date
from townhall.settings import Settings

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)
Anyone = Annotated[User | None, requires(PUBLIC)]


def readable(view: dict[str, Any]) -> dict[str, Any]:
    """The view's ISO dates as a citizen reads them: 14 March 2026."""
    texts = {
        f"{key}_text": long_date(dt.date.fromisoformat(view[key]))
        for key in ("submitted_on", "reply_by", "decided_on")
        if view.get(key)
    }
    return view | texts


def _status_page(
    request: Request,
    *,
    view: dict[str, Any] | None = None,
    entered: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "casework/status.html",
        {
            "title": f"Your case {view['reference']}" if view else "Check the progress of a case",
            "view": readable(view) if view else None,
            "entered": entered or {},
            "errors": errors or {},
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/case-status")
def status_form(request: Request, _user: Anyone) -> Response:
    return _status_page(request)


def _lookup(session: Session, settings: Settings, reference: str, verifier: str) -> dict[str, Any]:
    cat = catalogue(settings)
    if not reference.strip():
        raise InvalidInput("Enter your reference number", field="reference")
    if verifier.strip():
        actions.citizen_case(cat, session, reference, verifier)
        return views.citizen_status(session, cat, reference, verified=True)
    return views.citizen_status(session, cat, reference)


@router.post("/case-status")
def status_lookup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    reference: Annotated[str, Form(max_length=200)] = "",
    verifier: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    # Posted, not a query string, so a postcode or email address never lands in a web address.
    entered = {"reference": reference, "verifier": verifier}
    try:
        view = _lookup(session, settings, reference, verifier)
    except (InvalidInput, NotFound) as exc:
        errors = field_messages(exc, "reference")
        return _status_page(request, entered=entered, errors=errors, status=422)
    return _status_page(request, view=view, entered=entered)


@router.post("/case-status/review")
def ask_for_review(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    reference: Annotated[str, Form(max_length=200)] = "",
    verifier: Annotated[str, Form(max_length=400)] = "",
    reason: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    entered = {"reference": reference, "verifier": verifier, "reason": reason}
    try:
        made = actions.appeal(
            session,
            catalogue(settings),
            settings,
            reference,
            reason=reason,
            verifier=verifier,
        )
    except (InvalidInput, NotFound, Conflict) as exc:
        errors = field_messages(exc, "reason")
        view = _view_or_none(session, settings, reference, verifier)
        return _status_page(request, view=view, entered=entered, errors=errors, status=422)
    return templates.TemplateResponse(
        request,
        "casework/review_sent.html",
        {"title": "Review requested", "original": reference.upper(), "case": made.case},
    )


@router.post("/case-status/reply")
def reply(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    reference: Annotated[str, Form(max_length=200)] = "",
    verifier: Annotated[str, Form(max_length=400)] = "",
    message: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    entered = {"reference": reference, "verifier": verifier, "message": message}
    try:
        actions.reply(session, catalogue(settings), reference, message=message, verifier=verifier)
    except (InvalidInput, NotFound, Conflict) as exc:
        errors = field_messages(exc, "message")
        view = _view_or_none(session, settings, reference, verifier)
        return _status_page(request, view=view, entered=entered, errors=errors, status=422)
    view = _lookup(session, settings, reference, verifier)
    return _status_page(request, view=view | {"replied": True}, entered=entered)


def _view_or_none(
    session: Session, settings: Settings, reference: str, verifier: str
) -> dict[str, Any] | None:
    try:
        return _lookup(session, settings, reference, verifier)
    except (InvalidInput, NotFound):
        return None
