"""Bad, hostile and unlucky input: each gets a clear 4xx (or 503) and nothing is written.

API errors are JSON {"error": {status, code, message, details}}; page errors are GOV.UK pages.
Every test that changes nothing compares a snapshot of the database before and after.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text, update
from sqlalchemy.orm import Session

from conftest import PASSWORD, csrf_from, post_form, sign_in
from conftest import propose as _propose
from townhall.core import auth, decisions
from townhall.core.audit import AuditEntry, AuditHead
from townhall.core.db import transaction, utcnow

SCRIPT = "<script>alert('pwned')</script>"
SQL_INJECTIONS = [
    "1' OR '1'='1",
    "1; DROP TABLE decision_records; --",
    "' UNION SELECT password_hash FROM users --",
    "x'); DELETE FROM audit_entries; --",
]
HOSTILE_IDS = [*SQL_INJECTIONS, "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", SCRIPT, " ", "*"]
TABLES = {
    "users",
    "teams",
    "user_teams",
    "api_tokens",
    "login_failures",
    "decision_records",
    "audit_entries",
    "audit_head",
}


# --- arranging -----------------------------------------------------------------------------


def _issue(engine: Engine, user: auth.User, name: str = "script") -> str:
    with transaction(engine) as session:
        return auth.issue_token(session, session.get(auth.User, user.id), name)[1]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """An admin's token and a proposed decision, ready for API calls."""

    token: str
    decision_id: str

    @property
    def headers(self) -> dict[str, str]:
        return _bearer(self.token)

    def url(self, action: str) -> str:
        return f"/api/v1/decisions/{self.decision_id}/{action}"

    def post_json_bytes(self, client: TestClient, action: str, content: Any) -> Any:
        """Send a body exactly as given (bytes or chunks), labelled as JSON."""
        headers = {**self.headers, "Content-Type": "application/json"}
        return client.post(self.url(action), content=content, headers=headers)


@pytest.fixture
def api(engine: Engine, make_user: Callable[..., auth.User]) -> Api:
    admin = make_user("admin", "admin")
    return Api(_issue(engine, admin), _propose(engine))


# --- checking ------------------------------------------------------------------------------


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a bad request could have changed."""
    with Session(engine) as session:
        return {
            "decisions": sorted(
                session.execute(
                    select(
                        decisions.DecisionRecord.id,
                        decisions.DecisionRecord.status,
                        decisions.DecisionRecord.review_reason,
                        decisions.DecisionRecord.reviewer_id,
                    )
                ).all()
            ),
            "audit": session.scalar(select(func.count(AuditEntry.id))),
            "audit_head": session.scalar(select(AuditHead.seq)),
            "users": sorted(session.scalars(select(auth.User.username))),
            "tokens": session.scalar(select(func.count(auth.ApiToken.id))),
            "revoked": session.scalar(
                select(func.count(auth.ApiToken.id)).where(auth.ApiToken.revoked_at.is_not(None))
            ),
            "login_failures": session.scalar(select(func.count(auth.LoginFailure.id))),
        }


@pytest.fixture
def unchanged(engine: Engine) -> Iterator[Callable[[], None]]:
    """Call it once the test has arranged its data: the test then fails if anything changes."""
    before: dict[str, Any] = {}

    def take() -> None:
        before.update(snapshot(engine))

    yield take
    if before:  # empty only if the test failed before it got that far
        assert snapshot(engine) == before, "a refused request wrote to the database"


def status_of(engine: Engine, decision_id: str) -> str:
    with Session(engine) as session:
        decision = session.get(decisions.DecisionRecord, decision_id)
        assert decision is not None
        return decision.status


def api_error(
    response: Any, status: int, code: str | None = None, case: object = ""
) -> dict[str, Any]:
    """Assert the JSON error shape and return the error."""
    assert response.status_code == status, (case, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and len(error["message"].strip()) > 10
    assert isinstance(error["details"], list)
    if code is not None:
        assert error["code"] == code, (case, error)
    return error


def govuk_error(response: Any, status: int, message: str) -> str:
    """Assert a GOV.UK error page with the given status and message; return the HTML."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "govuk-template" in html and 'class="govuk-heading-l"' in html
    assert message in html, html
    return html


def tables_intact(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    with Session(engine) as session:  # and they still answer queries
        for table in TABLES:
            session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


# --- content type and size -----------------------------------------------------------------


NOT_JSON = [
    ("text/plain", b'{"outcome": "routine", "reason": "checked"}'),
    ("application/x-www-form-urlencoded", b"outcome=routine&reason=checked"),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="reason"\r\n\r\nchecked\r\n--xyz--\r\n',
    ),
    ("application/xml", b"<reason>checked</reason>"),
    ("application/jsonp", b'{"reason": "checked"}'),
    (None, b'{"outcome": "routine", "reason": "checked"}'),
]


def test_write_with_a_body_that_is_not_json_is_415(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    for action in ("accept", "override"):
        for content_type, body in NOT_JSON:
            headers = dict(api.headers)
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = client.post(api.url(action), content=body, headers=headers)
            error = api_error(response, 415, "unsupported_media_type", (action, content_type))
            assert "application/json" in error["message"]


def test_body_over_the_limit_with_content_length_is_413(
    client: TestClient, app: FastAPI, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    limit = app.state.settings.max_body_bytes
    reason = "x" * (limit + 1)
    body = ('{"reason": "' + reason + '"}').encode()
    response = api.post_json_bytes(client, "accept", body)
    assert int(response.request.headers["content-length"]) > limit
    error = api_error(response, 413, "body_too_large")
    assert f"{limit // 1024} KB" in error["message"]


def test_chunked_body_over_the_limit_without_content_length_is_413(
    client: TestClient, app: FastAPI, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    limit = app.state.settings.max_body_bytes
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"reason": "'
        while sent <= limit:
            sent += 64 * 1024
            yield b"y" * (64 * 1024)
        yield b'"}'

    response = api.post_json_bytes(client, "accept", chunks())
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert sent > limit
    error = api_error(response, 413, "body_too_large")
    assert f"{limit // 1024} KB" in error["message"]


def test_body_just_under_the_limit_is_read(
    client: TestClient, app: FastAPI, api: Api, unchanged: Callable[[], None]
) -> None:
    """The limit refuses only what is over it: a large body that fits reaches validation."""
    unchanged()
    limit = app.state.settings.max_body_bytes
    body = b'{"reason": "' + b"z" * (limit - 100) + b'"}'
    response = api.post_json_bytes(client, "accept", body)
    error = api_error(response, 422, "invalid_input")  # the reason is over 2000 characters
    assert "reason" in {d["field"] for d in error["details"]}


def test_oversized_form_on_a_page_is_a_govuk_413_page(
    client: TestClient,
    app: FastAPI,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    make_user("casey", "caseworker")
    decision_id = _propose(engine)
    sign_in(client, "casey")
    token = csrf_from(client.get(f"/review/{decision_id}").text)
    unchanged()
    limit = app.state.settings.max_body_bytes
    response = client.post(
        f"/review/{decision_id}/override",
        data={"csrf_token": token, "outcome": "routine", "reason": "r" * (limit + 1)},
        follow_redirects=False,
    )
    govuk_error(response, 413, "The file or form you sent is too large")


# --- malformed, unknown and wrongly typed JSON ---------------------------------------------


MALFORMED = [
    b"{",
    b'{"reason": "checked",}',
    b"{'reason': 'single quotes'}",
    b'{"reason": "unterminated}',
    b"reason=checked",
    b"\xff\xfe\x00{",  # not UTF-8 at all
]


def test_malformed_json_is_400_with_a_clear_message(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    for action in ("accept", "override"):
        for body in MALFORMED:
            response = api.post_json_bytes(client, action, body)
            error = api_error(response, 400, "malformed_body", body)
            assert "valid JSON" in error["message"]


UNKNOWN_FIELDS = [
    ("accept", {"reason": "fine", "approved_by": "someone else"}, "approved_by"),
    ("accept", {"reasons": "typo in the field name"}, "reasons"),
    ("override", {"outcome": "routine", "reason": "checked", "status": "accepted"}, "status"),
    ("override", {"outcome": "routine", "reason": "ok", "final_output": {}}, "final_output"),
]


def test_unknown_fields_are_422_naming_the_field(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    for action, body, field in UNKNOWN_FIELDS:
        response = client.post(api.url(action), json=body, headers=api.headers)
        error = api_error(response, 422, "invalid_input", body)
        assert field in {d["field"] for d in error["details"]}, error
        assert field in error["message"]


WRONG_TYPES = [
    ("accept", {"reason": 42}, "reason"),
    ("accept", {"reason": ["a", "list"]}, "reason"),
    ("accept", {"reason": {"nested": "object"}}, "reason"),
    ("accept", {"reason": True}, "reason"),
    ("accept", {"reason": "r" * 2001}, "reason"),
    ("accept", ["not", "an", "object"], "body"),
    ("accept", "just a string", "body"),
    ("override", {"outcome": "", "reason": "checked"}, "outcome"),
    ("override", {"outcome": "   ", "reason": "checked"}, "outcome"),
    ("override", {"outcome": None, "reason": "checked"}, "outcome"),
    ("override", {"outcome": 3, "reason": "checked"}, "outcome"),
    ("override", {"outcome": "o" * 201, "reason": "checked"}, "outcome"),
    ("override", {"outcome": "routine"}, "reason"),
    ("override", {"outcome": "routine", "reason": ""}, "reason"),
    ("override", {"outcome": "routine", "reason": 12.5}, "reason"),
    ("override", {"reason": "no outcome"}, "outcome"),
    ("override", {}, "outcome"),
    ("override", None, "body"),
]


def test_wrong_types_and_empty_values_are_422(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    for action, body, field in WRONG_TYPES:
        response = client.post(
            api.url(action),
            content=json.dumps(body).encode(),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        error = api_error(response, 422, "invalid_input", body)
        assert field in {d["field"] for d in error["details"]}, (body, error)
        assert error["message"].startswith("The request is not valid.")


def test_accept_with_an_empty_body_is_422(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    response = client.post(
        api.url("accept"), content=b"", headers={**api.headers, "Content-Type": "application/json"}
    )
    api_error(response, 422, "invalid_input")


# --- injection -----------------------------------------------------------------------------


def test_hostile_path_ids_are_404_and_change_nothing(
    client: TestClient, api: Api, engine: Engine, unchanged: Callable[[], None]
) -> None:
    unchanged()
    for hostile in HOSTILE_IDS:
        path = quote(hostile, safe="")
        for method, url, body in [
            ("GET", f"/api/v1/decisions/{path}", None),
            ("POST", f"/api/v1/decisions/{path}/accept", {"reason": "ok"}),
            ("POST", f"/api/v1/decisions/{path}/override", {"outcome": "routine", "reason": "ok"}),
        ]:
            response = client.request(method, url, json=body, headers=api.headers)
            api_error(response, 404, "not_found", url)
            assert "<script>" not in response.text
            assert "password_hash" not in response.text
    assert status_of(engine, api.decision_id) == "proposed"
    tables_intact(engine)


def test_hostile_query_params_leak_no_rows(
    client: TestClient, api: Api, engine: Engine, unchanged: Callable[[], None]
) -> None:
    _propose(engine, service="routing")
    unchanged()
    everything = client.get("/api/v1/decisions", headers=api.headers).json()
    assert everything["total"] == 2
    genuine = client.get("/api/v1/decisions", params={"service": "casework"}, headers=api.headers)
    assert genuine.json()["total"] == 1

    for hostile in [*SQL_INJECTIONS, SCRIPT, "casework' --", "casework%", "%", "_", "*"]:
        response = client.get("/api/v1/decisions", params={"service": hostile}, headers=api.headers)
        assert response.status_code == 200, (hostile, response.text)
        assert response.json()["total"] == 0 and response.json()["items"] == [], hostile

        for name in ("status", "limit", "offset"):
            refused = client.get("/api/v1/decisions", params={name: hostile}, headers=api.headers)
            error = api_error(refused, 422, "invalid_input", (name, hostile))
            assert name in {d["field"] for d in error["details"]}
    tables_intact(engine)


def test_overlong_query_param_is_422(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    response = client.get(
        "/api/v1/decisions", params={"service": "' OR 1=1 --" * 10}, headers=api.headers
    )
    error = api_error(response, 422, "invalid_input")
    assert "service" in error["message"]


def test_hostile_query_params_on_the_review_page_are_escaped(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    _propose(engine)
    sign_in(client, "casey")
    service = '"><script>alert(1)</script>'
    response = client.get("/review", params={"service": service})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "0 decisions." in response.text
    tables_intact(engine)


HOSTILE_REASON = f"{SQL_INJECTIONS[1]} {SCRIPT} \"quoted\" & 'single' <b>bold</b> {{{{ 7*7 }}}}"
HOSTILE_OUTCOME = '<img src=x onerror="alert(1)">'


def test_hostile_override_is_stored_verbatim_and_rendered_escaped(
    client: TestClient,
    engine: Engine,
    api: Api,
    make_user: Callable[..., auth.User],
) -> None:
    response = client.post(
        api.url("override"),
        json={"outcome": HOSTILE_OUTCOME, "reason": HOSTILE_REASON},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["review_reason"] == HOSTILE_REASON
    assert response.json()["final_output"]["outcome"] == HOSTILE_OUTCOME

    with Session(engine) as session:
        stored = session.get(decisions.DecisionRecord, api.decision_id)
        assert stored.status == "overridden"
        assert stored.review_reason == HOSTILE_REASON  # kept exactly, never executed
        assert stored.final_output["outcome"] == HOSTILE_OUTCOME
    tables_intact(engine)
    assert client.get("/api/v1/audit/verify", headers=api.headers).json()["ok"] is True

    make_user("casey", "caseworker")
    sign_in(client, "casey")
    page = client.get(f"/review/{api.decision_id}")
    assert page.status_code == 200
    html = page.text
    assert SCRIPT not in html and HOSTILE_OUTCOME not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "{{ 7*7 }}" in html  # shown as typed, not evaluated as a template


def test_hostile_override_through_the_page_form_is_stored_verbatim(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    decision_id = _propose(engine, output={"outcome": "urgent"})  # free-text outcome
    sign_in(client, "casey")
    response = post_form(
        client,
        f"/review/{decision_id}/override",
        {"outcome": HOSTILE_OUTCOME, "reason": HOSTILE_REASON},
        page=f"/review/{decision_id}",
    )
    assert response.status_code == 303, response.text
    with Session(engine) as session:
        stored = session.get(decisions.DecisionRecord, decision_id)
        assert stored.review_reason == HOSTILE_REASON
        assert stored.final_output == {"outcome": HOSTILE_OUTCOME}
    html = client.get(f"/review/{decision_id}").text
    assert SCRIPT not in html and HOSTILE_OUTCOME not in html
    assert "&lt;script&gt;" in html
    tables_intact(engine)


HOSTILE_USERNAMES = [
    *SQL_INJECTIONS,
    "admin'--",
    '"><script>alert(1)</script>',
    "robert'); DROP TABLE users;--",
    "a b",
    "ADMIN ",  # normalises to the existing admin: a conflict, also refused
]


def test_users_form_refuses_hostile_usernames(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    make_user("admin", "admin")
    sign_in(client, "admin")
    unchanged()
    for username in HOSTILE_USERNAMES:
        response = post_form(
            client,
            "/admin/users",
            {
                "username": username,
                "display_name": SCRIPT,
                "role": "caseworker",
                "team": "",
                "password": "a long enough password",
            },
            page="/admin/users",
        )
        assert response.status_code == 422, (username, response.text[:300])
        html = response.text
        assert "govuk-error-summary" in html and "govuk-form-group--error" in html
        assert "Username must be" in html or "already exists" in html, username
        assert "<script>alert(1)</script>" not in html and SCRIPT not in html
    tables_intact(engine)


def test_users_form_refuses_a_hostile_role(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    make_user("admin", "admin")
    sign_in(client, "admin")
    unchanged()
    response = post_form(
        client,
        "/admin/users",
        {"username": "newbie", "role": "admin' OR '1'='1", "password": "a long enough password"},
        page="/admin/users",
    )
    assert response.status_code == 422
    assert "Unknown role" in response.text
    tables_intact(engine)


def test_nul_characters_are_refused_or_stored_never_a_crash(
    client: TestClient, engine: Engine, api: Api
) -> None:
    """PostgreSQL cannot store NUL in text; SQLite can. Neither may turn it into a 500."""
    listing = client.get(
        "/api/v1/decisions", params={"service": "case\x00work"}, headers=api.headers
    )
    if engine.dialect.name == "postgresql":
        api_error(listing, 422, "invalid_input")
    else:
        assert listing.status_code == 200 and listing.json()["total"] == 0

    by_id = client.get("/api/v1/decisions/%00", headers=api.headers)
    nul_id = client.post("/api/v1/decisions/%00/accept", json={}, headers=api.headers)
    if engine.dialect.name == "postgresql":
        api_error(by_id, 422, "invalid_input")
        api_error(nul_id, 422, "invalid_input")
    else:
        api_error(by_id, 404, "not_found")
        api_error(nul_id, 404, "not_found")

    before = snapshot(engine)
    response = client.post(
        api.url("override"), json={"outcome": "routine", "reason": "a\x00b"}, headers=api.headers
    )
    if engine.dialect.name == "postgresql":
        error = api_error(response, 422, "invalid_input")
        assert "NUL" in error["message"]
        assert snapshot(engine) == before
    else:
        assert response.status_code == 200
        assert response.json()["review_reason"] == "a\x00b"


# --- CSRF ----------------------------------------------------------------------------------


def test_page_form_without_csrf_token_is_403(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    make_user("admin", "admin")
    decision_id = _propose(engine)
    sign_in(client, "admin")
    unchanged()
    for url, data in [
        (f"/review/{decision_id}/accept", {"reason": "no token"}),
        (f"/review/{decision_id}/override", {"outcome": "routine", "reason": "no token"}),
        ("/admin/users", {"username": "sneaky", "role": "admin", "password": "p" * 20}),
        ("/account/tokens", {"name": "sneaky"}),
    ]:
        response = client.post(url, data=data, follow_redirects=False)
        govuk_error(response, 403, "This form has expired or did not come from this service")
        forged = client.post(url, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        govuk_error(forged, 403, "did not come from this service")


def test_csrf_token_from_another_session_is_403(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    make_user("admin", "admin")
    make_user("mallory", "caseworker")
    decision_id = _propose(engine)
    sign_in(client, "admin")
    with TestClient(app) as other:
        sign_in(other, "mallory")
        stolen = csrf_from(other.get(f"/review/{decision_id}").text)
    own = csrf_from(client.get(f"/review/{decision_id}").text)
    assert stolen != own
    unchanged()
    for url, data in [
        (f"/review/{decision_id}/accept", {}),
        ("/admin/users", {"username": "sneaky", "role": "admin", "password": "p" * 20}),
    ]:
        response = client.post(url, data={**data, "csrf_token": stolen}, follow_redirects=False)
        govuk_error(response, 403, "did not come from this service")


def test_cookie_authenticated_api_write_needs_the_csrf_header(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
) -> None:
    make_user("casey", "caseworker")
    decision_id = _propose(engine)
    sign_in(client, "casey")
    before = snapshot(engine)
    url = f"/api/v1/decisions/{decision_id}/accept"
    response = client.post(url, json={"reason": "from a cookie"})
    api_error(response, 403, "forbidden")
    response = client.post(url, json={}, headers={"X-CSRF-Token": "guessed"})
    api_error(response, 403, "forbidden")
    assert snapshot(engine) == before
    token = csrf_from(client.get(f"/review/{decision_id}").text)
    response = client.post(url, json={}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.json()["status"] == "accepted"


# --- authentication and permission on the API ----------------------------------------------


def test_api_without_a_valid_token_is_401_with_www_authenticate(
    client: TestClient, api: Api, unchanged: Callable[[], None]
) -> None:
    unchanged()
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer th_not-a-real-token"},
        {"Authorization": "Bearer ' OR '1'='1"},
        {"Authorization": f"Basic {api.token}"},
        {"Authorization": f"Bearer {api.token}x"},
    ]
    for headers in cases:
        for method, url, body in [
            ("GET", "/api/v1/me", None),
            ("GET", "/api/v1/decisions", None),
            ("POST", api.url("accept"), {"reason": "no token"}),
        ]:
            response = client.request(method, url, json=body, headers=headers)
            api_error(response, 401, "not_signed_in")
            assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_token_is_401(client: TestClient, engine: Engine, api: Api) -> None:
    assert client.get("/api/v1/me", headers=api.headers).status_code == 200
    with transaction(engine) as session:
        row = session.scalar(select(auth.ApiToken))
        auth.revoke_token(session, row.user, row.id)
    before = snapshot(engine)
    response = client.get("/api/v1/me", headers=api.headers)
    error = api_error(response, 401, "not_signed_in")
    assert "revoked" in error["message"]
    assert response.headers["www-authenticate"] == "Bearer"
    response = client.post(api.url("accept"), json={}, headers=api.headers)
    api_error(response, 401, "not_signed_in")
    assert snapshot(engine) == before


def test_caseworker_token_cannot_verify_the_audit_log(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    casey = make_user("casey", "caseworker", teams=("housing",))
    token = _issue(engine, casey)
    unchanged()
    response = client.get("/api/v1/audit/verify", headers=_bearer(token))
    error = api_error(response, 403, "forbidden")
    assert "permission" in error["message"]


def test_other_teams_decisions_are_404_to_a_caseworker(
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    unchanged: Callable[[], None],
) -> None:
    casey = make_user("casey", "caseworker", teams=("housing",))
    token = _issue(engine, casey)
    theirs = _propose(engine, team="benefits")
    unchanged()
    for method, url, body in [
        ("GET", f"/api/v1/decisions/{theirs}", None),
        ("POST", f"/api/v1/decisions/{theirs}/accept", {}),
        ("POST", f"/api/v1/decisions/{theirs}/override", {"outcome": "x", "reason": "y"}),
    ]:
        response = client.request(method, url, json=body, headers=_bearer(token))
        api_error(response, 404, "not_found")
    assert client.get("/api/v1/decisions", headers=_bearer(token)).json()["total"] == 0


# --- sign-in throttling --------------------------------------------------------------------


def _try_sign_in(client: TestClient, username: str, password: str) -> Any:
    token = csrf_from(client.get("/sign-in").text)
    return client.post(
        "/sign-in",
        data={"username": username, "password": password, "csrf_token": token, "next": "/staff"},
        follow_redirects=False,
    )


def test_sign_in_is_throttled_after_too_many_failures(
    app: FastAPI, client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    make_user("robin", "caseworker")
    settings = app.state.settings
    for _ in range(settings.login_max_failures):
        response = _try_sign_in(client, "casey", "wrong password guess")
        assert response.status_code == 401
        assert "The username or password is not right" in response.text

    before = snapshot(engine)
    for password in (PASSWORD, "another wrong guess"):
        # Even the right password is refused now, with the same message as a wrong one.
        response = _try_sign_in(client, " CASEY ", password)
        assert response.status_code == 429
        assert "Too many failed sign-in attempts" in response.text
        assert "govuk-error-summary" in response.text
    assert snapshot(engine) == before  # throttled attempts neither count nor sign in
    staff = client.get("/staff", follow_redirects=False)
    assert staff.status_code == 303 and staff.headers["location"].startswith("/sign-in")

    # Throttling is per account: another user signs in as normal.
    assert _try_sign_in(client, "robin", PASSWORD).status_code == 303
    client.post("/sign-out", data={"csrf_token": csrf_from(client.get("/staff").text)})

    # Once the window has passed, the right password works again.
    window = dt.timedelta(seconds=settings.login_window_seconds + 1)
    with transaction(engine) as session:
        session.execute(
            update(auth.LoginFailure)
            .where(auth.LoginFailure.username == "casey")
            .values(at=utcnow() - window)
        )
    response = _try_sign_in(client, "casey", PASSWORD)
    assert response.status_code == 303, response.text
    assert client.get("/staff", follow_redirects=False).status_code == 200


# --- the database goes away in the middle of a write ---------------------------------------


class DatabaseOutage:
    """Make the app's next write fail as if the database went away, on either backend.

    SQLite: another connection holds the write lock, and the app's connections wait only 200 ms
    for it (instead of 5 s). PostgreSQL: just before the app updates the decision, an admin
    connection terminates the app's server process, mid-transaction.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.killed: list[int] = []
        self._locker: sqlite3.Connection | None = None

    def _short_busy_timeout(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    def _terminate_before_write(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("UPDATE DECISION_RECORDS") or self.killed:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        admin = create_engine(self.engine.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        finally:
            admin.dispose()
        self.killed.append(pid)

    def __enter__(self) -> DatabaseOutage:
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", self._short_busy_timeout)
            self.engine.dispose()  # new connections get the short timeout
            self._locker = sqlite3.connect(self.engine.url.database, isolation_level=None)
            self._locker.execute("BEGIN IMMEDIATE")
        else:
            event.listen(self.engine, "before_cursor_execute", self._terminate_before_write)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._locker is not None:
            self._locker.execute("ROLLBACK")
            self._locker.close()
            event.remove(self.engine, "connect", self._short_busy_timeout)
        else:
            event.remove(self.engine, "before_cursor_execute", self._terminate_before_write)
        self.engine.dispose()


@pytest.mark.parametrize("surface", ["api", "page"])
def test_database_going_away_mid_write_is_503_and_nothing_is_half_written(
    client: TestClient,
    engine: Engine,
    api: Api,
    make_user: Callable[..., auth.User],
    surface: str,
) -> None:
    if surface == "page":
        make_user("casey", "caseworker")
        sign_in(client, "casey")
        token = csrf_from(client.get(f"/review/{api.decision_id}").text)
    before = snapshot(engine)
    with DatabaseOutage(engine) as outage:
        if surface == "api":
            response = client.post(
                api.url("override"),
                json={"outcome": "routine", "reason": "checked with the resident"},
                headers=api.headers,
            )
            error = api_error(response, 503, "database_unavailable")
            assert "nothing was saved" in error["message"]
        else:
            response = client.post(
                f"/review/{api.decision_id}/accept",
                data={"csrf_token": token, "reason": "looks right"},
                follow_redirects=False,
            )
            govuk_error(response, 503, "The database is unavailable, so nothing was saved")
        assert response.headers["retry-after"] == "30"
    if engine.dialect.name == "postgresql":
        assert len(outage.killed) == 1  # the write really was cut off part-way
    assert snapshot(engine) == before
    assert status_of(engine, api.decision_id) == "proposed"
    with Session(engine) as session:  # the token's last use was in the lost transaction too
        assert session.scalar(select(auth.ApiToken.last_used_at)) is None

    # Once the database is back, the same write succeeds and the audit chain is intact.
    retry = client.post(api.url("accept"), json={"reason": "second try"}, headers=api.headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "accepted"
    verify = client.get("/api/v1/audit/verify", headers=api.headers).json()
    assert verify["ok"] is True
