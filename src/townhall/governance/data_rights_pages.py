"""Data protection officer's pages: subject access export (page and JSON) and erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from townhall.core.auth import User
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.permissions import DATA_RIGHTS
from townhall.core.web import SessionDep, requires, templates
from townhall.governance import retention

router = APIRouter(
    prefix="/data-rights", default_response_class=HTMLResponse, include_in_schema=False
)
Officer = Annotated[User, requires(DATA_RIGHTS)]
Ref = Annotated[str, Query(max_length=128)]


@router.get("")
def data_rights(
    request: Request, session: SessionDep, user: Officer, subject: Ref = ""
) -> Response:
    report = None
    if subject.strip():
        report = retention.subject_access(session, subject.strip(), actor=f"user:{user.id}")
    return templates.TemplateResponse(
        request,
        "data_rights/index.html",
        {
            "title": "Subject access and erasure",
            "subject": subject,
            "report": report,
            "errors": {},
            "erased": request.query_params.get("erased"),
        },
    )


@router.get("/export.json", response_class=JSONResponse)
def export(session: SessionDep, user: Officer, subject: Ref) -> JSONResponse:
    report = retention.subject_access(session, subject.strip(), actor=f"user:{user.id}")
    return JSONResponse(
        report, headers={"Content-Disposition": 'attachment; filename="subject-access.json"'}
    )


@router.post("/erase")
def erase(
    request: Request,
    session: SessionDep,
    user: Officer,
    subject: Annotated[str, Form(max_length=128)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        count = retention.erase(session, subject.strip(), actor=f"user:{user.id}", reason=reason)
    except (InvalidInput, NotFound) as exc:
        # Show the records again beside the error, so the form (and the field named) is there.
        report = None
        if isinstance(exc, InvalidInput) and subject.strip():
            report = retention.subject_access(session, subject.strip(), actor=f"user:{user.id}")
        return templates.TemplateResponse(
            request,
            "data_rights/index.html",
            {
                "title": "Subject access and erasure",
                "subject": subject,
                "report": report,
                "errors": {"reason" if isinstance(exc, InvalidInput) else "subject": exc.message},
                "error_title": True,
            },
            status_code=exc.status_code,
        )
    return templates.TemplateResponse(
        request,
        "data_rights/index.html",
        {
            "title": "Subject access and erasure",
            "subject": "",
            "report": None,
            "errors": {},
            "erased": count,
        },
    )
