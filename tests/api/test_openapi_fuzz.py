"""Schemathesis fuzzes the served OpenAPI schema against the app, in process.

Every documented operation is fuzzed with generated valid (positive) and invalid (negative) input,
as an admin, as a caseworker with a team and anonymously, on SQLite and PostgreSQL. Every response
must be documented, of a documented content type, match its documented schema, never be a 5xx,
and every 4xx must be the platform's JSON error shape with a message a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from townhall.core import audit, auth, decisions
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.services import SERVICES

MAX_EXAMPLES = 30
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Invalid input must be refused with a 4xx (never accepted, never a crash).
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


@dataclass(frozen=True)
class World:
    tokens: dict[str, str | None]
    decision_ids: list[str]
    # Decisions of a team the caseworker is not in: never theirs to see or review.
    foreign_ids: list[str]


def _team(session: Session, slug: str) -> auth.Team:
    team = session.scalar(select(auth.Team).where(auth.Team.slug == slug))
    if team is None:
        team = auth.Team(slug=slug, name=slug.title())
        session.add(team)
        session.flush()
    return team


def _seed(app: FastAPI, engine: Engine) -> World:
    """Users with real API tokens, and proposed decisions across teams, all committed."""
    hasher = app.state.password_hasher
    tokens: dict[str, str | None] = {"anonymous": None}
    ids: list[str] = []
    foreign: list[str] = []
    with transaction(engine) as session:
        housing, benefits = _team(session, "housing"), _team(session, "benefits")
        admin = auth.create_user(
            session, username="fuzz-admin", password="x" * 16, role="admin", hasher=hasher
        )
        casey = auth.create_user(
            session,
            username="fuzz-casey",
            password="y" * 16,
            role="caseworker",
            teams=[housing],
            hasher=hasher,
        )
        tokens["admin"] = auth.issue_token(session, admin, "fuzzing")[1]
        tokens["caseworker"] = auth.issue_token(session, casey, "fuzzing")[1]
        for n, team in enumerate([housing, housing, benefits, None] * 6):
            decision = decisions.record(
                session,
                service="casework" if n % 2 else "routing",
                decision_type="casework.triage",
                subject_ref=f"pseud-{n}",
                model_name="triage-rules",
                model_version="2026.1",
                inputs={"n": n},
                output={"outcome": "urgent", "options": ["urgent", "routine"], "n": n},
                confidence=0.5 + n / 100,
                explanation={"reasons": [{"text": "Assisted collection"}]},
                summary=f"Case {n}",
                team_id=team.id if team else None,
            )
            ids.append(decision.id)
            if team is benefits:
                foreign.append(decision.id)
    return World(tokens, ids, foreign)


@pytest.fixture
def world(app: FastAPI, engine: Engine) -> World:
    return _seed(app, engine)


@pytest.fixture
def schema(app: FastAPI) -> Iterator[Any]:
    loaded = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    yield loaded
    # Schemathesis keeps each app's lifespan (and so the app) alive for the process; let it go.
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


def _assert_error_shape(response: Any) -> None:
    """Every 4xx from the API is {"error": {status, code, message, details}} with a message."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), (status, content_type, response.content)
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}, error
    assert error["status"] == status, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], list), error
    if status == 401:
        assert response.headers.get("www-authenticate") == ["Bearer"], response.headers


def _strategy(operation: Any, mode: GenerationMode, ids: list[str]) -> st.SearchStrategy[Any]:
    """Generated input; operations on one decision also get real ids, so reviews really happen."""
    generated = operation.as_strategy(generation_mode=mode)
    if "{decision_id}" not in operation.path:
        return generated
    # Accept and override draw from separate halves, so neither can use up the other's decisions
    # (which would make whether a 200 is seen depend on the order examples happen to run in).
    if operation.path.endswith("/accept"):
        ids = ids[0::2]
    elif operation.path.endswith("/override"):
        ids = ids[1::2]
    real = st.sampled_from(ids).flatmap(
        lambda i: operation.as_strategy(generation_mode=mode, path_parameters={"decision_id": i})
    )
    return st.one_of(generated, real)


def _fuzz(
    operation: Any,
    headers: dict[str, str],
    mode: GenerationMode,
    ids: list[str],
    max_examples: int,
    seen: dict[tuple[str, int], int],
) -> None:
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, mode, ids))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=checks)
        _assert_error_shape(response)
        key = (f"{case.method.upper()} {case.operation.path}", response.status_code)
        seen[key] = seen.get(key, 0) + 1

    run()


def _statuses(engine: Engine, ids: list[str] | None = None) -> dict[str, int]:
    query = select(decisions.DecisionRecord.status, func.count()).group_by(
        decisions.DecisionRecord.status
    )
    if ids is not None:
        query = query.where(decisions.DecisionRecord.id.in_(ids))
    with Session(engine) as session:
        return {status: int(n) for status, n in session.execute(query)}


def _core_operation(operation: Any) -> bool:
    """The core's own API; each service's routes are fuzzed by `test_fuzz_service_apis`."""
    return not any(operation.path.startswith(f"/api/v1/{s.name}/") for s in SERVICES)


ACCEPT = "POST /api/v1/decisions/{decision_id}/accept"
OVERRIDE = "POST /api/v1/decisions/{decision_id}/override"


@pytest.mark.parametrize("role", ["admin", "caseworker", "anonymous"])
def test_fuzz_the_api_schema(
    schema: Any, world: World, engine: Engine, role: str, record_property: Callable[..., None]
) -> None:
    seen: dict[tuple[str, int], int] = {}
    token = world.tokens[role]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Anonymous calls are refused before any work is done, so fewer examples show as much.
    max_examples = MAX_EXAMPLES if token else MAX_EXAMPLES // 3
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if _core_operation(op)]
    assert len(operations) == 8, [op.label for op in operations]
    for operation in operations:
        # Negative data needs a constraint to break. A path id is any string, so operations whose
        # only input is an id (or that take none) are fuzzed with positive data only.
        takes_input = len(operation.query) > 0 or len(operation.body) > 0
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:
            _fuzz(operation, headers, mode, world.decision_ids, max_examples, seen)
    record_property("responses", sorted(seen.items()))

    assert not [key for key in seen if key[1] >= 500], seen
    assert {op for (op, _) in seen} == {f"{op.method.upper()} {op.path}" for op in operations}
    counts = _statuses(engine)
    assert sum(counts.values()) == len(world.decision_ids)
    with Session(engine) as session:
        audited = session.scalar(select(func.count(AuditEntry.id)))
        assert audit.verify(session).ok
    reviewed = counts.get("accepted", 0) + counts.get("overridden", 0)
    assert audited == len(world.decision_ids) + reviewed  # one entry per review, no more

    if role == "anonymous":
        # Nobody signed in: every API call is refused (401, or a 4xx for input FastAPI rejects
        # before authentication runs) and nothing changes.
        api_statuses = {status for (op, status) in seen if "/api/v1/" in op}
        assert 401 in api_statuses and api_statuses <= {400, 401, 415, 422}, seen
        assert reviewed == 0
        return
    # Real reviews happened through both paths, and repeats were refused as conflicts.
    assert (ACCEPT, 200) in seen and (OVERRIDE, 200) in seen, seen
    assert (ACCEPT, 409) in seen or (OVERRIDE, 409) in seen, seen
    assert (ACCEPT, 422) in seen and (OVERRIDE, 422) in seen, seen  # negative bodies refused
    assert reviewed > 0
    if role == "caseworker":
        assert ("GET /api/v1/audit/verify", 403) in seen
        assert _statuses(engine, world.foreign_ids) == {"proposed": len(world.foreign_ids)}
    else:
        assert ("GET /api/v1/audit/verify", 200) in seen


@pytest.mark.parametrize("role", ["admin", "anonymous"])
def test_fuzz_service_apis(schema: Any, world: World, role: str) -> None:
    """Each service's JSON routes: no 5xx, only documented responses, the platform's error shape."""
    seen: dict[tuple[str, int], int] = {}
    token = world.tokens[role]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if not _core_operation(op)]
    assert operations, "no service publishes an API"
    for operation in operations:
        takes_input = len(operation.query) > 0 or len(operation.body) > 0
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:
            _fuzz(operation, headers, mode, world.decision_ids, MAX_EXAMPLES // 3, seen)
    assert not [key for key in seen if key[1] >= 500], seen
    assert {op for (op, _) in seen} == {f"{op.method.upper()} {op.path}" for op in operations}
    assert any(status == 200 for (_, status) in seen), seen
