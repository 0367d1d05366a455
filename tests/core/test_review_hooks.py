"""Override hooks: a service checks and acts on a person's override of its own decisions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from conftest import propose
from townhall.core import auth, review
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput

TYPE = "test.hooked"
seen: list[dict[str, Any]] = []


def only_urgent_or_routine(
    session: Session, user: auth.User, decision: DecisionRecord, final: dict[str, Any]
) -> None:
    if final["outcome"] not in ("urgent", "routine"):
        raise InvalidInput("Choose urgent or routine.", field="outcome")
    seen.append({"decision": decision.id, "status": decision.status, "by": user.username})


@pytest.fixture
def hooked() -> Iterator[None]:
    review.register_override_hook(TYPE, only_urgent_or_routine)
    seen.clear()
    yield
    review._override_hooks.pop(TYPE, None)


def test_the_hook_sees_the_override_before_the_decision_changes(
    engine: Engine, make_user: Callable[..., auth.User], hooked: None
) -> None:
    decision_id = propose(engine, team="waste", decision_type=TYPE)
    robin = make_user("robin", "caseworker", ("waste",))
    with Session(engine) as session:
        user = session.get(auth.User, robin.id)
        assert user is not None
        done = review.override_outcome(
            session, user, decision_id, outcome="routine", reason="Not assisted"
        )
        assert done.status == "overridden"
    assert seen == [{"decision": decision_id, "status": "proposed", "by": "robin"}]


def test_a_hook_can_refuse_an_override_and_nothing_changes(
    engine: Engine, make_user: Callable[..., auth.User], hooked: None
) -> None:
    decision_id = propose(engine, team="waste", decision_type=TYPE)
    robin = make_user("robin", "caseworker", ("waste",))
    with Session(engine) as session:
        user = session.get(auth.User, robin.id)
        assert user is not None
        with pytest.raises(InvalidInput, match="Choose urgent or routine"):
            review.override_outcome(session, user, decision_id, outcome="later", reason="x")
        assert session.get(DecisionRecord, decision_id).status == "proposed"  # type: ignore[union-attr]
    assert seen == []


def test_other_decision_types_are_not_hooked(
    engine: Engine, make_user: Callable[..., auth.User], hooked: None
) -> None:
    decision_id = propose(engine, team="waste")  # casework.triage
    robin = make_user("robin", "caseworker", ("waste",))
    with Session(engine) as session:
        user = session.get(auth.User, robin.id)
        assert user is not None
        review.override_outcome(session, user, decision_id, outcome="anything", reason="x")
    assert seen == []
