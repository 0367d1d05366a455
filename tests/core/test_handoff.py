"""The core's hand-off seam: services register team resolvers, others ask which team."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from townhall.core import handoff


def bins(session: Session, text: str) -> tuple[str, str] | None:
    return ("waste", "mentions bins") if "bin" in text else None


def everything(session: Session, text: str) -> tuple[str, str] | None:
    return ("customer-services", "takes anything")


def broken(session: Session, text: str) -> tuple[str, str] | None:
    raise RuntimeError("model file unreadable")


@pytest.fixture
def only_these() -> Iterator[None]:
    """Each test sees only the resolvers it registers; the services' come back afterwards."""
    saved = handoff.team_resolvers()
    for resolver in saved:
        handoff.unregister_team_resolver(resolver)
    yield
    for resolver in handoff.team_resolvers():
        handoff.unregister_team_resolver(resolver)
    for resolver in saved:
        handoff.register_team_resolver(resolver)


def test_with_no_resolver_nobody_answers(db: Session, only_these: None) -> None:
    assert handoff.resolve_team(db, "my bin was missed") is None


def test_resolvers_are_asked_in_order_and_the_first_answer_wins(
    db: Session, only_these: None
) -> None:
    handoff.register_team_resolver(bins)
    handoff.register_team_resolver(everything)
    assert handoff.resolve_team(db, "my bin was missed") == ("waste", "mentions bins")
    assert handoff.resolve_team(db, "a pothole") == ("customer-services", "takes anything")


def test_registering_twice_changes_nothing_and_a_resolver_can_be_removed(
    db: Session, only_these: None
) -> None:
    assert handoff.register_team_resolver(bins) is bins
    handoff.register_team_resolver(bins)
    assert handoff.team_resolvers() == (bins,)
    handoff.unregister_team_resolver(bins)
    handoff.unregister_team_resolver(bins)  # already gone: no error
    assert handoff.resolve_team(db, "bin") is None


def test_a_failing_resolver_is_skipped_so_the_hand_off_is_not_lost(
    db: Session, only_these: None, caplog: pytest.LogCaptureFixture
) -> None:
    handoff.register_team_resolver(broken)
    handoff.register_team_resolver(bins)
    assert handoff.resolve_team(db, "my bin") == ("waste", "mentions bins")
    assert "model file unreadable" in caplog.text
