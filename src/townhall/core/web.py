"""Web plumbing shared by every page and API route: sessions, CSRF, permissions, templates.

Every route declares exactly one permission with ``requires(...)``; ``route_permission`` reads it
back so a test can walk the routes and fail on any without one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from townhall.core import auth
from townhall.core.errors import Forbidden, InvalidInput, NotSignedIn
from townhall.core.jobs import Queue
from townhall.core.permissions import PUBLIC, STAFF
from townhall.settings import Settings

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _page_context(request: Request) -> dict[str, Any]:
    return {
        "settings": request.app.state.settings,
        "user": getattr(request.state, "user", None),
    }


templates = Jinja2Templates(
    directory=str(WEB_DIR / "templates"), context_processors=[_page_context]
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def job_queue(request: Request) -> Queue:
    """The app's job queue, opened on first use so apps that never queue work open no store."""
    state = request.app.state
    if state.queue is None:
        state.queue = Queue(state.settings, state.jobs)
    queue: Queue = state.queue
    return queue


def get_db(request: Request) -> Iterator[Session]:
    """A session per request, committed when the handler returns and rolled back if it raises."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        # Detach what was loaded (the signed-in user) before rolling back, so the error page
        # can still read it: a rollback would expire it and close() would leave it unloadable.
        session.expunge_all()
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit is an error response.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _check_csrf(request: Request) -> None:
    """Cookie-authenticated and form posts must carry the session's CSRF token.

    Requests authenticated by a bearer token carry no ambient authority, so they are exempt.
    """
    if request.method in SAFE_METHODS or _bearer(request) is not None:
        return
    content_type = request.headers.get("content-type", "")
    is_form = content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    has_cookie = request.app.state.settings.session_cookie_name in request.cookies
    if not (is_form or has_cookie):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and is_form:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise Forbidden(
            "This form has expired or did not come from this service. "
            "Go back, reload the page and try again."
        )


def sign_in(request: Request, user: auth.User) -> None:
    # A new session on sign-in, so a session fixed before sign-in is worthless afterwards.
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def _load_user(request: Request, session: Session) -> auth.User | None:
    token = _bearer(request)
    if token is not None:
        user = auth.user_for_token(session, token)
        if user is None:
            raise NotSignedIn("The API token is not valid or has been revoked.")
        return user
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    user = session.get(auth.User, uid)
    if user is None or not user.active:
        request.session.clear()
        return None
    return user


class Requirement:
    """A route's permission; as a dependency it returns the signed-in user (or None if public)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"requires({self.permission!r})"

    async def __call__(self, request: Request, session: SessionDep) -> auth.User | None:
        await _check_csrf(request)
        user = _load_user(request, session)
        request.state.user = user
        if self.permission == PUBLIC:
            return user
        if user is None:
            raise NotSignedIn("Sign in to continue.")
        if not user.can(self.permission):
            raise Forbidden("You do not have permission to see this page.")
        return user


def requires(permission: str) -> Any:
    """Declare a route's permission (checked against the known ones by the route-walk test)."""
    return Depends(Requirement(permission))


CurrentUser = Annotated[auth.User, requires(STAFF)]
MaybeUser = Annotated[auth.User | None, requires(PUBLIC)]


def route_permission(route: Any) -> str | None:
    """The permission a route (an APIRoute or FastAPI RouteContext) declares, or None."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Requirement):
            return dependant.call.permission
        stack.extend(dependant.dependencies)
    return None


def form_errors(exc: InvalidInput) -> dict[str, str]:
    return {d["field"]: d["message"] for d in exc.details if "field" in d and "message" in d}


@dataclass(frozen=True)
class NavItem:
    text: str
    href: str
    permission: str
    active: bool = False


# Filled by townhall.app from the core's pages and every service's home page.
NAVIGATION: list[NavItem] = []


def nav_items(request: Request, user: auth.User | None) -> list[NavItem]:
    if user is None:
        return []
    path = request.url.path
    return [
        NavItem(
            item.text,
            item.href,
            item.permission,
            active=path == item.href or (item.href != "/staff" and path.startswith(item.href)),
        )
        for item in NAVIGATION
        if user.can(item.permission)
    ]


templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["nav_items"] = nav_items
