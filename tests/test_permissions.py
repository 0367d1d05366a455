"""Every route declares a permission, and each role is refused where it must be."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from conftest import sign_in
from townhall.core import auth
from townhall.core.permissions import ROLE_PERMISSIONS, Role, known_permissions, role_has
from townhall.core.web import route_permission

STATIC_MOUNTS = {"/static", "/assets"}


def test_every_route_declares_a_known_permission(app: FastAPI) -> None:
    undeclared, unknown, seen = [], [], 0
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            assert route.path in STATIC_MOUNTS, f"unexpected mount {route.path}"
            continue
        assert isinstance(route.original_route, APIRoute), f"{route!r} is not an APIRoute"
        seen += 1
        permission = route_permission(route)
        if permission is None:
            undeclared.append(f"{sorted(route.methods)} {route.path}")
        elif permission not in known_permissions():
            unknown.append(f"{route.path}: {permission}")
    assert seen >= 20, f"only {seen} routes found: the walk is missing included routers"
    assert not undeclared, f"routes without a permission: {undeclared}"
    assert not unknown, f"routes with an unknown permission: {unknown}"


# (path, permission it needs) for a GET to each staff page and API listing.
PROTECTED = [
    ("/staff", "staff"),
    ("/review", "decisions:read"),
    ("/audit", "audit:read"),
    ("/admin/users", "users:manage"),
    ("/models", "models:read"),
    ("/data-rights", "data_rights:manage"),
    ("/fairness", "fairness:read"),
    ("/privacy-scan", "privacy:scan"),
    ("/exports", "privacy:scan"),
    ("/account/tokens", "tokens:own"),
    ("/metrics", "metrics:read"),
    ("/api/v1/me", "staff"),
    ("/api/v1/decisions", "decisions:read"),
    ("/api/v1/audit/verify", "audit:read"),
]
STAFF_ROLES = [role for role in Role if role is not Role.PUBLIC]


@pytest.mark.parametrize("role", STAFF_ROLES, ids=str)
def test_each_role_is_refused_exactly_where_it_must_be(
    client: TestClient, make_user: Callable[..., auth.User], role: Role
) -> None:
    make_user(f"user.{role.value}", role.value)
    sign_in(client, f"user.{role.value}")
    for path, permission in PROTECTED:
        response = client.get(path, follow_redirects=False)
        allowed = permission in ROLE_PERMISSIONS[role]
        if allowed:
            assert response.status_code == 200, f"{role} refused {path}: {response.status_code}"
        else:
            assert response.status_code == 403, f"{role} was let into {path}"


def test_anonymous_visitors_are_sent_to_sign_in_or_get_401(client: TestClient) -> None:
    for path, _ in PROTECTED:
        response = client.get(path, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401
            assert response.json()["error"]["message"]
        else:
            assert response.status_code == 303
            assert response.headers["location"] == f"/sign-in?next={path}"


def test_review_actions_need_review_permission(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("ana", "analyst")
    sign_in(client, "ana")
    token = client.get("/staff").text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/review/any-id/accept", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403


def test_public_role_holds_only_public(app: FastAPI) -> None:
    # Services' own permissions count too: a citizen holds only `public`, an admin everything.
    assert {p for p in known_permissions() if role_has(Role.PUBLIC, p)} == {"public"}
    assert all(role_has(Role.ADMIN, p) for p in known_permissions())
    assert any(p not in ROLE_PERMISSIONS[Role.ADMIN] for p in known_permissions())
    managers = [role for role in Role if "users:manage" in ROLE_PERMISSIONS[role]]
    assert managers == [Role.ADMIN]


def test_the_walk_notices_a_route_without_a_permission() -> None:
    from fastapi import APIRouter

    from townhall.core.web import requires

    router = APIRouter()

    @router.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    @router.get("/closed", dependencies=[requires("audit:read")])
    def closed_route() -> dict[str, str]:
        return {}

    probe = FastAPI()
    probe.include_router(router)
    found = {
        r.path: route_permission(r)
        for r in iter_route_contexts(probe.routes)
        if isinstance(r.original_route, APIRoute)
    }
    assert found["/open"] is None
    assert found["/closed"] == "audit:read"
