"""Core HTML pages: the public start and information pages, sign in and out, the staff home."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from townhall.core import audit, auth
from townhall.core.errors import Throttled
from townhall.core.middleware import client_address
from townhall.core.permissions import PUBLIC, STAFF
from townhall.core.web import (
    CurrentUser,
    MaybeUser,
    SessionDep,
    SettingsDep,
    requires,
    sign_in,
    sign_out,
    templates,
)

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)

# Filled by townhall.app: (title, description, href, permission) for the staff home.
HOME_CARDS: list[tuple[str, str, str, str]] = []


def _local_path(target: str | None) -> str:
    """Only same-site paths are followed after sign-in, never another host."""
    if not target:
        return "/staff"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/staff"
    return target


@router.get("/", dependencies=[requires(PUBLIC)])
def start(request: Request) -> Response:
    return templates.TemplateResponse(request, "pages/start.html", {"title": "Home"})


@router.get("/cookies", dependencies=[requires(PUBLIC)])
def cookies(request: Request) -> Response:
    return templates.TemplateResponse(request, "pages/cookies.html", {"title": "Cookies"})


@router.get("/privacy", dependencies=[requires(PUBLIC)])
def privacy(request: Request) -> Response:
    return templates.TemplateResponse(request, "pages/privacy.html", {"title": "Privacy notice"})


@router.get("/accessibility", dependencies=[requires(PUBLIC)])
def accessibility(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "pages/accessibility.html", {"title": "Accessibility statement"}
    )


@router.get("/sign-in")
def sign_in_form(request: Request, user: MaybeUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_local_path(next), status_code=303)
    return templates.TemplateResponse(
        request, "pages/sign_in.html", {"title": "Sign in", "next": _local_path(next), "errors": {}}
    )


@router.post("/sign-in")
def sign_in_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: MaybeUser,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/staff",
) -> Response:
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 - an error message
    status = 422
    if not errors:
        try:
            user = auth.authenticate(
                session,
                username=username,
                password=password,
                client=client_address(request.scope),
                hasher=request.app.state.password_hasher,
                throttle=auth.Throttle(settings.login_max_failures, settings.login_window_seconds),
            )
        except Throttled as exc:
            errors["username"] = exc.message
            status = 429
        else:
            if user is not None:
                sign_in(request, user)
                audit.log(session, f"user:{user.id}", "auth.signed_in", f"user:{user.id}")
                return RedirectResponse(_local_path(next), status_code=303)
            errors["username"] = "The username or password is not right"
            status = 401
            audit.log(
                session,
                "anonymous",
                "auth.sign_in_failed",
                f"username:{username.strip().lower()[:60]}",
            )
    return templates.TemplateResponse(
        request,
        "pages/sign_in.html",
        {
            "title": "Sign in",
            "next": _local_path(next),
            "errors": errors,
            "username": username[:200],
            "error_title": True,
        },
        status_code=status,
    )


@router.post("/sign-out")
def sign_out_submit(request: Request, session: SessionDep, user: MaybeUser) -> Response:
    if user is not None:
        audit.log(session, f"user:{user.id}", "auth.signed_out", f"user:{user.id}")
    sign_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/staff", dependencies=[requires(STAFF)])
def staff_home(request: Request, user: CurrentUser) -> Response:
    cards = [card for card in HOME_CARDS if user.can(card[3])]
    return templates.TemplateResponse(
        request, "pages/staff_home.html", {"title": "Staff home", "cards": cards}
    )
