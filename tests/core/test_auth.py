"""Staff accounts: argon2 hashes, sign-in, throttling, API tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from conftest import PASSWORD, csrf_from, post_form, sign_in
from townhall.core import auth
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.errors import Conflict, InvalidInput, Throttled


def test_passwords_are_stored_as_argon2id_hashes(make_user: Callable[..., auth.User]) -> None:
    user = make_user("casey", "caseworker")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("username", "password", "role", "error"),
    [
        ("ab", "short", "caseworker", InvalidInput),
        ("good.name", "short", "caseworker", InvalidInput),
        ("good.name", "good.name-and-more", "caseworker", InvalidInput),
        ("Robert'); DROP TABLE users;--", PASSWORD, "caseworker", InvalidInput),
        ("good.name", PASSWORD, "superuser", InvalidInput),
        ("good.name", PASSWORD, "public", InvalidInput),
    ],
)
def test_create_user_rejects_bad_input(
    app: FastAPI, engine: Engine, username: str, password: str, role: str, error: type
) -> None:
    with pytest.raises(error), transaction(engine) as session:
        auth.create_user(
            session,
            username=username,
            password=password,
            role=role,
            hasher=app.state.password_hasher,
        )
    with Session(engine) as session:
        assert session.scalar(select(func.count(auth.User.id))) == 0


def test_duplicate_username_is_a_conflict(make_user: Callable[..., auth.User]) -> None:
    make_user("casey", "caseworker")
    with pytest.raises(Conflict):
        make_user("Casey", "analyst")


def test_sign_in_and_out(client: TestClient, make_user: Callable[..., auth.User]) -> None:
    make_user("casey", "caseworker")
    assert client.get("/staff", follow_redirects=False).headers["location"].startswith("/sign-in")
    sign_in(client, "casey")
    home = client.get("/staff")
    assert home.status_code == 200 and "Decisions to review" in home.text
    out = post_form(client, "/sign-out", {})
    assert out.status_code == 303
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_session_cookie_is_http_only_and_same_site(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"username": "casey", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_is_refused_and_audited(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "username": "casey",
            "password": "wrong password!",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 401
    assert "The username or password is not right" in response.text
    assert "govuk-error-summary" in response.text
    with Session(engine) as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "auth.sign_in_failed" in actions


def test_sign_in_is_throttled_after_repeated_failures(
    client: TestClient, app: FastAPI, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    limit = app.state.settings.login_max_failures
    token = csrf_from(client.get("/sign-in").text)
    for _ in range(limit):
        failed = client.post(
            "/sign-in", data={"username": "casey", "password": "not it at all", "csrf_token": token}
        )
        assert failed.status_code == 401
    blocked = client.post(
        "/sign-in",
        data={"username": "casey", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.text


def test_throttle_window_expires(
    app: FastAPI, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    hasher = app.state.password_hasher
    with transaction(engine) as session:
        for _ in range(3):
            auth.authenticate(
                session,
                username="casey",
                password="nope nope nope",
                client="t",
                hasher=hasher,
                throttle=auth.Throttle(3, 60),
            )
    with pytest.raises(Throttled), transaction(engine) as session:
        auth.authenticate(
            session,
            username="casey",
            password=PASSWORD,
            client="t",
            hasher=hasher,
            throttle=auth.Throttle(3, 60),
        )
    with transaction(engine) as session:  # a zero-second window has forgotten the failures
        user = auth.authenticate(
            session,
            username="casey",
            password=PASSWORD,
            client="t",
            hasher=hasher,
            throttle=auth.Throttle(3, 0),
        )
    assert user is not None and user.username == "casey"


def test_api_token_is_shown_once_stored_hashed_and_revocable(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    sign_in(client, "casey")
    created = post_form(
        client, "/account/tokens", {"name": "nightly export"}, page="/account/tokens"
    )
    assert created.status_code == 200
    plain = created.text.split('id="new-token">')[1].split("<")[0]
    assert plain.startswith("th_")
    with Session(engine) as session:
        token = session.scalars(select(auth.ApiToken)).one()
        assert token.token_hash != plain and plain not in token.token_hash
    assert plain not in client.get("/account/tokens").text  # never shown again

    api = TestClient(client.app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert me.status_code == 200 and me.json()["username"] == "casey"

    revoked = post_form(client, f"/account/tokens/{token.id}/revoke", {}, page="/account/tokens")
    assert revoked.status_code == 303
    after = api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "not_signed_in"


def test_users_cannot_revoke_each_others_tokens(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    owner = make_user("owner", "analyst")
    make_user("other", "caseworker")
    with transaction(engine) as session:
        token, _ = auth.issue_token(session, session.get(auth.User, owner.id), "mine")
    sign_in(client, "other")
    response = post_form(client, f"/account/tokens/{token.id}/revoke", {}, page="/account/tokens")
    assert response.status_code == 404
    with Session(engine) as session:
        assert session.get(auth.ApiToken, token.id).revoked_at is None


def test_deactivated_user_loses_session_and_tokens(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("casey", "caseworker")
    with transaction(engine) as session:
        _, plain = auth.issue_token(session, session.get(auth.User, user.id), "script")
    sign_in(client, "casey")
    with transaction(engine) as session:
        session.get(auth.User, user.id).active = False
    assert client.get("/staff", follow_redirects=False).status_code == 303
    api = TestClient(client.app)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_sign_in_only_redirects_to_local_paths(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("casey", "caseworker")
    token = csrf_from(client.get("/sign-in").text)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client.cookies.clear()
        token = csrf_from(client.get("/sign-in").text)
        response = client.post(
            "/sign-in",
            data={"username": "casey", "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/staff"
