"""create_app(): the FastAPI application with the core and every service mounted."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from townhall import __version__
from townhall.core import admin_pages, api, pages, registry_pages, review_pages
from townhall.core.auth import password_hasher
from townhall.core.db import get_engine, session_factory
from townhall.core.errors import NotSignedIn, TownhallError
from townhall.core.jobs import Job
from townhall.core.logs import configure_logging
from townhall.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from townhall.core.permissions import (
    AUDIT_READ,
    DATA_RIGHTS,
    DECISIONS_READ,
    FAIRNESS_READ,
    MODELS_READ,
    PRIVACY_SCAN,
    PUBLIC,
    STAFF,
    TOKENS_OWN,
    USERS_MANAGE,
    grant,
)
from townhall.core.responses import error_response, wants_json
from townhall.core.web import NAVIGATION, WEB_DIR, NavItem, requires
from townhall.governance import (
    anonymise_pages,
    data_rights_pages,
    fairness_pages,
    privacy_pages,
    retention,
    transparency_pages,
)
from townhall.services import SERVICES
from townhall.settings import Settings, get_settings

log = logging.getLogger("townhall.app")

CORE_CARDS = [
    (
        "Decisions to review",
        "Accept or override what models and rules have suggested.",
        "/review",
        DECISIONS_READ,
    ),
    ("Audit log", "Every change by staff and systems, with a tamper check.", "/audit", AUDIT_READ),
    (
        "Model registry",
        "Model versions, their evidence, shadow runs and the stop switch.",
        "/models",
        MODELS_READ,
    ),
    (
        "Fairness audits",
        "How models' proposals served each group of people.",
        "/fairness",
        FAIRNESS_READ,
    ),
    (
        "Scan a file for personal data",
        "What personal data a file holds, before it is shared or loaded.",
        "/privacy-scan",
        PRIVACY_SCAN,
    ),
    (
        "Make an anonymised export",
        "A k-anonymous, l-diverse copy of a dataset before it leaves the council.",
        "/exports",
        PRIVACY_SCAN,
    ),
    (
        "Subject access and erasure",
        "Everything held about a person, and erasing it.",
        "/data-rights",
        DATA_RIGHTS,
    ),
    ("Users", "Add staff and see their roles and teams.", "/admin/users", USERS_MANAGE),
    (
        "API tokens",
        "Tokens for scripts and other systems to use the API as you.",
        "/account/tokens",
        TOKENS_OWN,
    ),
]


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors():
        location = [
            str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")
        ]
        details.append(
            {"field": ".".join(location) or "body", "message": str(error.get("msg", ""))}
        )
    return details


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TownhallError)
    async def domain_error(request: Request, exc: TownhallError) -> Response:
        if isinstance(exc, NotSignedIn) and not wants_json(request) and request.method == "GET":
            return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotSignedIn) else None
        return error_response(
            request, exc.status_code, exc.code, exc.message, details=exc.details, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            # FastAPI reports malformed JSON as a validation error located at a character offset.
            return error_response(
                request,
                400,
                "malformed_body",
                "The request body could not be read. Check it is valid JSON.",
            )
        details = _field_errors(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return error_response(
            request, 422, "invalid_input", f"The request is not valid. {summary}", details=details
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: "There is nothing at this address.",
            405: "This address does not accept that method.",
        }
        message = (
            exc.detail
            if isinstance(exc.detail, str) and exc.status_code not in messages
            else messages.get(exc.status_code, str(exc.detail))
        )
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        if exc.status_code == 400 and "parsing the body" in message:
            message = "The request body could not be read. Check it is valid JSON."
            code = "malformed_body"
        return error_response(
            request, exc.status_code, code, message, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: DBAPIError) -> Response:
        log.error("database unavailable: %s", exc.orig)
        return error_response(
            request,
            503,
            "database_unavailable",
            "The database is unavailable, so nothing was saved. Try again shortly.",
            headers={"Retry-After": "30"},
        )

    @app.exception_handler(DataError)
    async def unstorable_input(request: Request, exc: DBAPIError) -> Response:
        # PostgreSQL refuses some values SQLite keeps, such as a NUL character in text.
        log.warning("database refused a value: %s", exc.orig)
        return error_response(
            request,
            422,
            "invalid_input",
            "Some of the information sent cannot be stored, for example because it contains "
            "a NUL character. Nothing was saved.",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(
            request,
            500,
            "internal_error",
            "Something went wrong on our side. Nothing you sent was saved.",
        )


def _openapi_route(app: FastAPI) -> None:
    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[requires(PUBLIC)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())


def platform_jobs() -> tuple[Job, ...]:
    """Every background and scheduled job: the governance layer's, then each service's."""
    return (retention.PURGE_JOB, *(job for service in SERVICES for job in service.jobs))


def load_service_demos(session: Session, settings: Settings) -> list[str]:
    """Each service's demo data, after the core's (`townhall.core.demo`); one line per service."""
    return [f"{s.title}: {s.demo(session, settings)}" for s in SERVICES if s.demo is not None]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    app = FastAPI(
        title=f"{settings.service_name} API",
        version=__version__,
        description="Decisions, reviews and audit for Townhall. Authenticate with "
        "`Authorization: Bearer <token>`; create tokens at /account/tokens.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    engine = get_engine(settings.database_url, settings.database_echo)
    app.state.settings = settings
    app.state.engine = engine
    app.state.system_cards = [s.system_card for s in SERVICES if s.system_card is not None]
    app.state.sessionmaker = session_factory(engine)
    app.state.jobs = platform_jobs()
    app.state.queue = None  # built on first use (townhall.core.web.job_queue)
    app.state.password_hasher = password_hasher(
        settings.password_time_cost, settings.password_memory_kib
    )

    app.openapi_url = "/api/openapi.json"  # for app.openapi()'s servers; served by our own route
    _openapi_route(app)
    app.include_router(api.ops)
    app.include_router(api.api)
    for router in (
        pages.router,
        review_pages.router,
        admin_pages.router,
        registry_pages.router,
        data_rights_pages.router,
        transparency_pages.router,
        fairness_pages.router,
        privacy_pages.router,
        anonymise_pages.router,
    ):
        app.include_router(router)

    NAVIGATION.clear()
    NAVIGATION.append(NavItem("Home", "/staff", STAFF))
    pages.HOME_CARDS.clear()
    pages.HOME_CARDS.extend(CORE_CARDS)
    for service in SERVICES:
        for permission, roles in service.permissions.items():
            grant(permission, roles)
        if service.router is not None:
            app.include_router(service.router, prefix="/api/v1", responses=api.ERRORS)
        if service.pages is not None:
            app.include_router(service.pages)
        if service.home_url:
            NAVIGATION.append(NavItem(service.title, service.home_url, service.home_permission))
            pages.HOME_CARDS.insert(
                0, (service.title, service.description, service.home_url, service.home_permission)
            )
    NAVIGATION.append(NavItem("Review", "/review", DECISIONS_READ))
    NAVIGATION.append(NavItem("Models", "/models", MODELS_READ))
    NAVIGATION.append(NavItem("Audit", "/audit", AUDIT_READ))

    static = WEB_DIR / "static"
    if not (static / "townhall.css").exists():
        log.warning("front-end assets missing: run `make assets` (pages will be unstyled)")
    static.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.mount("/assets", StaticFiles(directory=static / "assets", check_dir=False), name="assets")

    _install_error_handlers(app)
    # Order matters: the last added runs first. Request ids wrap everything, then the size limit.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=settings.session_cookie_name,
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.behind_tls,
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware, behind_tls=settings.behind_tls)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def asgi() -> Any:
    """Factory for `uvicorn --factory townhall.app:asgi`."""
    return create_app()
