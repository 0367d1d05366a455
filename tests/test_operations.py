"""Operations: health and readiness, metrics, security headers, request ids, JSON logs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from conftest import make_settings, sign_in
from townhall.app import create_app
from townhall.core import auth
from townhall.core.logs import configure_logging


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_readyz_reports_an_unreachable_database() -> None:
    # Nothing listens on port 1 of loopback: the connection is refused at once.
    app = create_app(make_settings("postgresql+psycopg://postgres@127.0.0.1:1/townhall"))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/", "/sign-in", "/api/v1/me", "/does-not-exist", "/static/townhall.js"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # plain HTTP here


def test_hsts_when_behind_tls(database_url: str) -> None:
    app = create_app(make_settings(database_url, behind_tls=True))
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    app.state.engine.dispose()


def test_pages_have_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/").text
    assert "<script>" not in html and " style=" not in html
    assert '<script type="module" src="/static/townhall.js"></script>' in html


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"}).headers["x-request-id"]
        == "abc12345-trace"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()


def test_access_log_is_json_with_the_request_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Configure again now that capsys has replaced stderr, exactly as create_app does.
    configure_logging("INFO", json_lines=True)
    client.get("/healthz", headers={"X-Request-ID": "trace-0001-abcd"})
    lines = [line for line in capsys.readouterr().err.splitlines() if "trace-0001-abcd" in line]
    assert lines, "no access log line carried the request id"
    record = json.loads(lines[-1])
    assert record["request_id"] == "trace-0001-abcd"
    assert record["route"] == "/healthz" and record["status"] == 200


def test_metrics_need_permission_and_count_requests(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    assert client.get("/metrics", follow_redirects=False).status_code == 303
    make_user("ana", "analyst")
    sign_in(client, "ana")
    client.get("/healthz")
    body = client.get("/metrics").text
    assert "townhall_http_requests_total" in body
    assert 'route="/healthz"' in body


def test_error_pages_are_govuk_pages(client: TestClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text and "govuk-template" in missing.text
    api_missing = client.get("/api/v1/nothing")
    assert api_missing.status_code == 404
    assert api_missing.json()["error"]["code"] == "not_found"


def test_unexpected_errors_give_a_govuk_500_without_internals(settings) -> None:  # type: ignore[no-untyped-def]
    from townhall.core.permissions import PUBLIC
    from townhall.core.web import requires

    app = create_app(settings)

    @app.get("/boom", dependencies=[requires(PUBLIC)])
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.get("/api/v1/boom", dependencies=[requires(PUBLIC)])
    def api_boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom")
        api = client.get("/api/v1/boom")
    assert page.status_code == 500
    assert "Sorry, there is a problem with the service" in page.text
    assert "secret internal detail" not in page.text
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "internal_error"
    assert "secret internal detail" not in api.text
    assert page.headers["x-request-id"]
    app.state.engine.dispose()
