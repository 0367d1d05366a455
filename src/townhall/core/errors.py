"""Domain errors. Services raise these; ``townhall.app`` maps them to HTTP in one place."""

from __future__ import annotations


class TownhallError(Exception):
    """Base of every error the platform reports to a person."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, str]] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # `field` is the common case of one error about one form field: the page's error summary
        # links to it and the API reports it, both from `details`.
        if field and not details:
            details = [{"field": field, "message": message.rstrip(".")}]
        self.details = details or []


class InvalidInput(TownhallError):
    status_code = 422
    code = "invalid_input"


class NotFound(TownhallError):
    status_code = 404
    code = "not_found"


class Conflict(TownhallError):
    status_code = 409
    code = "conflict"


class Forbidden(TownhallError):
    status_code = 403
    code = "forbidden"


class NotSignedIn(TownhallError):
    status_code = 401
    code = "not_signed_in"


class Throttled(TownhallError):
    status_code = 429
    code = "too_many_attempts"


class DatabaseUnavailable(TownhallError):
    status_code = 503
    code = "database_unavailable"
