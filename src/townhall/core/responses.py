"""Error responses in one shape: JSON under /api and for JSON clients, GOV.UK pages otherwise."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from townhall.core.web import templates

TITLES = {
    400: "There is a problem with your request",
    401: "Sign in to continue",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "This action is not allowed here",
    409: "This has already been done",
    413: "The file or form you sent is too large",
    415: "This type of content is not accepted",
    422: "Some of the information is not valid",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
    503: "Sorry, the service is unavailable",
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_body(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "details": details or []}}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_json(request):
        return JSONResponse(error_body(status, code, message, details), status, headers=headers)
    template = "errors/error.html"
    context = {
        "title": TITLES.get(status, "There is a problem"),
        "message": message,
        "status": status,
        "details": details or [],
    }
    for attempt in range(2):
        try:
            return templates.TemplateResponse(
                request, template, context, status_code=status, headers=headers
            )
        except Exception:  # never let an error page fail: fall back to plain HTML
            if attempt or getattr(request.state, "user", None) is None:
                break
            # A failed flush expires the signed-in user and the database may be gone, so the
            # user cannot be reloaded: render the page once more without them.
            request.state.user = None
    return HTMLResponse(f"<h1>{context['title']}</h1>", status, headers=headers)
