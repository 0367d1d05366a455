"""Staff self-service and administration pages: API tokens, users, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from townhall.core import audit, auth
from townhall.core.errors import Conflict, InvalidInput
from townhall.core.permissions import AUDIT_READ, TOKENS_OWN, USERS_MANAGE, Role
from townhall.core.web import SessionDep, requires, templates

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)

TokenOwner = Annotated[auth.User, requires(TOKENS_OWN)]
Admin = Annotated[auth.User, requires(USERS_MANAGE)]
Auditor = Annotated[auth.User, requires(AUDIT_READ)]
STAFF_ROLES = [r for r in Role if r is not Role.PUBLIC]


def _tokens_page(
    request: Request,
    session: SessionDep,
    user: auth.User,
    *,
    new_token: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/tokens.html",
        {
            "title": "API tokens",
            "tokens": auth.tokens_of(session, user),
            "new_token": new_token,
            "errors": errors or {},
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/account/tokens")
def tokens(request: Request, session: SessionDep, user: TokenOwner) -> Response:
    return _tokens_page(request, session, user)


@router.post("/account/tokens")
def token_create(
    request: Request,
    session: SessionDep,
    user: TokenOwner,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        token, plain = auth.issue_token(session, user, name)
    except InvalidInput as exc:
        return _tokens_page(request, session, user, errors={"name": exc.message}, status=422)
    audit.log(session, f"user:{user.id}", "token.issued", f"token:{token.id}")
    # Shown once, on this response only; never stored in plain text.
    return _tokens_page(request, session, user, new_token=plain)


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(session: SessionDep, user: TokenOwner, token_id: int) -> Response:
    token = auth.revoke_token(session, user, token_id)
    audit.log(session, f"user:{user.id}", "token.revoked", f"token:{token.id}")
    return RedirectResponse("/account/tokens", status_code=303)


def _users_page(
    request: Request,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    created: str | None = None,
    status: int = 200,
) -> Response:
    users = session.scalars(select(auth.User).order_by(auth.User.username))
    teams = session.scalars(select(auth.Team).order_by(auth.Team.name))
    return templates.TemplateResponse(
        request,
        "admin/users.html",
        {
            "title": "Users",
            "users": list(users),
            "teams": list(teams),
            "roles": STAFF_ROLES,
            "errors": errors or {},
            "form": form or {},
            "created": created,
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/admin/users")
def users(request: Request, session: SessionDep, _admin: Admin) -> Response:
    return _users_page(request, session)


@router.post("/admin/users")
def user_create(
    request: Request,
    session: SessionDep,
    admin: Admin,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    team: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role, "team": team}
    try:
        teams = [auth.team_by_slug(session, team)] if team else []
        user = auth.create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name.strip() or None,
            teams=teams,
            hasher=request.app.state.password_hasher,
        )
    except (InvalidInput, Conflict) as exc:
        field = (
            "password"
            if "Password" in exc.message
            else "role"
            if "role" in exc.message
            else "username"
        )
        return _users_page(request, session, errors={field: exc.message}, form=form, status=422)
    audit.log(session, f"user:{admin.id}", "user.created", f"user:{user.id}", {"role": user.role})
    return _users_page(request, session, created=user.username)


@router.get("/audit")
def audit_log(
    request: Request,
    session: SessionDep,
    _auditor: Auditor,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    size = 50
    entries = audit.recent(session, limit=size, offset=(page - 1) * size)
    check = audit.verify(session)
    return templates.TemplateResponse(
        request,
        "audit/list.html",
        {
            "title": "Audit log",
            "entries": entries,
            "check": check,
            "page_number": page,
            "has_next": len(entries) == size,
        },
    )
