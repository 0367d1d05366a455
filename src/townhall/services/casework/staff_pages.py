"""The caseworkers' casework pages: team queues, a case, its actions, and the dashboard.

Each action is a plain form (JavaScript off) that posts, calls one function of actions.py and
redirects back to the case; a refused action re-renders its form with the GOV.UK error summary.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core.auth import Team, User
from townhall.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TownhallError
from townhall.core.web import SessionDep, SettingsDep, requires, templates
from townhall.services.casework import actions, evidence, views
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.models import OPEN, Evidence, Status
from townhall.services.casework.permissions import (
    CASEWORK_EXPORT,
    CASEWORK_REPORT,
    CASEWORK_WORK,
)
from townhall.services.casework.rules import OUTCOMES, PRIORITIES

router = APIRouter(prefix="/casework", default_response_class=HTMLResponse, include_in_schema=False)
Worker = Annotated[User, requires(CASEWORK_WORK)]
Reporter = Annotated[User, requires(CASEWORK_REPORT)]
QUEUE_SIZE = 200
STATUSES = [status.value for status in OPEN] + [Status.DECIDED.value, Status.APPEALED.value]
DONE = {
    "assigned": "The case is assigned to you.",
    "requested": "Your request for more information has been sent.",
    "decided": "Your decision has been recorded and the applicant can see it.",
}


def field_messages(exc: TownhallError, field: str) -> dict[str, str]:
    """The error's messages by field, for the error summary; a message about no field in
    particular is shown against `field`."""
    found = {d["field"]: d["message"] for d in exc.details if "field" in d and "message" in d}
    return found or {field: exc.message.rstrip(".")}


@router.get("")
def home(user: Reporter) -> Response:
    target = "/casework/queue" if user.can(CASEWORK_WORK) else "/casework/dashboard"
    return RedirectResponse(target, status_code=303)


def _teams(session: Session, user: User) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if not actions.sees_every_team(user):
        query = query.where(Team.id.in_(user.team_ids or {-1}))
    return list(session.scalars(query))


@router.get("/queue")
def queue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    team: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
    form: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    found = views.queue(
        session,
        user,
        team=team or None,
        status=status or None,
        form=form or None,
        limit=QUEUE_SIZE,
    )
    # views.queue has no priority filter; the queue is short and ordered by priority already.
    items = [row for row in found["items"] if not priority or row["priority"] == priority]
    forms = catalogue(settings).library.forms
    return templates.TemplateResponse(
        request,
        "casework/queue.html",
        {
            "title": "Casework queue",
            "items": items,
            "total": found["total"] if not priority else len(items),
            "shown_max": QUEUE_SIZE,
            "forms": {form_id: spec.title for form_id, spec in forms.items()},
            "teams": _teams(session, user),
            "statuses": STATUSES,
            "priorities": PRIORITIES,
            "chosen": {"team": team, "status": status, "priority": priority, "form": form},
            "can_report": user.can(CASEWORK_REPORT),
        },
    )


def _case_page(
    request: Request,
    session: Session,
    settings: Any,
    user: User,
    reference: str,
    *,
    template: str = "casework/case.html",
    errors: dict[str, str] | None = None,
    entered: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    case = views.case_detail(session, catalogue(settings), user, reference)
    titles = {"casework/decide.html": "Decide", "casework/request_info.html": "Ask for more"}
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": f"{titles.get(template, 'Case')} {case['reference']}",
            "case": case,
            "open": case["status"] in {s.value for s in OPEN},
            "mine": case["assignee"] == user.username,
            "done": DONE.get(request.query_params.get("done", "")),
            "outcomes": OUTCOMES,
            "errors": errors or {},
            "error_title": bool(errors),
            "entered": entered or {},
        },
        status_code=status,
    )


@router.get("/cases/{reference}")
def case_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: Worker, reference: str
) -> Response:
    return _case_page(request, session, settings, user, reference)


@router.post("/cases/{reference}/assign")
def assign(
    request: Request, session: SessionDep, settings: SettingsDep, user: Worker, reference: str
) -> Response:
    try:
        case = actions.assign(session, user, reference)
    except (InvalidInput, Conflict) as exc:
        errors = field_messages(exc, "assign")
        return _case_page(request, session, settings, user, reference, errors=errors, status=409)
    return RedirectResponse(f"/casework/cases/{case.reference}?done=assigned", status_code=303)


@router.get("/cases/{reference}/request-information")
def request_form(
    request: Request, session: SessionDep, settings: SettingsDep, user: Worker, reference: str
) -> Response:
    return _case_page(
        request, session, settings, user, reference, template="casework/request_info.html"
    )


@router.post("/cases/{reference}/request-information")
def request_information(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    reference: str,
    message: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    try:
        case = actions.request_information(session, user, reference, message=message)
    except (InvalidInput, Conflict) as exc:
        return _case_page(
            request,
            session,
            settings,
            user,
            reference,
            template="casework/request_info.html",
            errors=field_messages(exc, "message"),
            entered={"message": message},
            status=422,
        )
    return RedirectResponse(f"/casework/cases/{case.reference}?done=requested", status_code=303)


@router.get("/cases/{reference}/decide")
def decide_form(
    request: Request, session: SessionDep, settings: SettingsDep, user: Worker, reference: str
) -> Response:
    return _case_page(request, session, settings, user, reference, template="casework/decide.html")


@router.post("/cases/{reference}/decide")
def decide(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    reference: str,
    outcome: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    # Both answers are checked up front so the page names every problem at once.
    errors: dict[str, str] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = "Select approve, refuse or refer"
    if not reason.strip():
        errors["reason"] = "Enter the reason for your decision"
    if not errors:
        try:
            case = actions.decide(session, user, reference, outcome=outcome, reason=reason)
        except (InvalidInput, Conflict, Forbidden) as exc:
            errors = field_messages(exc, "outcome")
        else:
            return RedirectResponse(
                f"/casework/cases/{case.reference}?done=decided", status_code=303
            )
    return _case_page(
        request,
        session,
        settings,
        user,
        reference,
        template="casework/decide.html",
        errors=errors,
        entered={"outcome": outcome, "reason": reason},
        status=422,
    )


@router.get("/cases/{reference}/evidence/{evidence_id}")
def evidence_file(
    session: SessionDep, settings: SettingsDep, user: Worker, reference: str, evidence_id: int
) -> Response:
    # Only staff who may see the case get its files, and always as a download, never inline.
    found = actions.visible_case(session, user, reference)
    item = session.get(Evidence, evidence_id)
    if item is None or item.case_id != found.id:
        raise NotFound("There is no such evidence on this case.")
    return Response(
        evidence.read(settings, item),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{item.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/dashboard")
def dashboard(
    request: Request, session: SessionDep, settings: SettingsDep, user: Reporter
) -> Response:
    data = views.dashboard(session, user)
    forms = catalogue(settings).library.forms
    return templates.TemplateResponse(
        request,
        "casework/dashboard.html",
        {
            "title": "Casework dashboard",
            "data": data,
            "forms": {form_id: spec.title for form_id, spec in forms.items()},
            "can_export": user.can(CASEWORK_EXPORT),
            "can_work": user.can(CASEWORK_WORK),
        },
    )
