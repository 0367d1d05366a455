"""Retention purges and data rights, with the audit chain still verifying afterwards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from conftest import post_form, propose, sign_in
from townhall.core import auth
from townhall.core.audit import AuditEntry, verify
from townhall.core.db import transaction, utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput, NotFound
from townhall.governance import retention


def _age(engine: Engine, decision_id: str, days: int) -> None:
    with transaction(engine) as session:
        session.execute(
            update(DecisionRecord)
            .where(DecisionRecord.id == decision_id)
            .values(created_at=utcnow() - dt.timedelta(days=days))
        )


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(DecisionRecord.id))) or 0)


def test_purge_removes_only_what_is_past_its_rule_and_is_audited(engine: Engine) -> None:
    old, recent = propose(engine), propose(engine)
    _age(engine, old, 400)
    _age(engine, recent, 10)
    with transaction(engine) as session:
        counted = retention.purge(session, {"decision_records": 365}, dry_run=True)
    assert counted.removed == {"decision_records": 1} and _count(engine) == 2
    with transaction(engine) as session:
        result = retention.purge(session, {"decision_records": 365, "login_failures": 30})
    assert result.removed == {"decision_records": 1, "login_failures": 0}
    with Session(engine) as session:
        assert session.get(DecisionRecord, recent) is not None
        assert session.get(DecisionRecord, old) is None
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and last.action == "retention.purged"
        assert last.detail["removed"]["decision_records"] == 1
        assert verify(session).ok


@pytest.mark.parametrize("rules", [{"emails": 30}, {"decision_records": 0}])
def test_bad_rules_are_refused_and_nothing_is_removed(engine: Engine, rules: dict) -> None:
    decision = propose(engine)
    _age(engine, decision, 5000)
    with pytest.raises(InvalidInput), transaction(engine) as session:
        retention.purge(session, rules)
    assert _count(engine) == 1


def test_subject_access_export_and_erasure_keep_the_chain_verifiable(engine: Engine) -> None:
    mine = [propose(engine, subject_ref="pseud-me") for _ in range(2)]
    other = propose(engine, subject_ref="pseud-other")
    with transaction(engine) as session:
        report = retention.subject_access(session, "pseud-me", actor="user:1")
    assert {d["id"] for d in report["decisions"]} == set(mine)
    assert report["decisions"][0]["suggested"]["outcome"] == "urgent"
    with pytest.raises(InvalidInput), transaction(engine) as session:
        retention.erase(session, "pseud-me", actor="user:1", reason=" ")
    with transaction(engine) as session:
        assert retention.erase(session, "pseud-me", actor="user:1", reason="SAR-2026-001") == 2
    with pytest.raises(NotFound), transaction(engine) as session:
        retention.erase(session, "pseud-me", actor="user:1", reason="again")
    with Session(engine) as session:
        assert session.get(DecisionRecord, other) is not None
        entries = list(session.scalars(select(AuditEntry)))
        assert all("pseud-me" not in str(e.detail) for e in entries)
        assert verify(session).ok


def test_data_rights_pages(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    propose(engine, subject_ref="pseud-abc")
    make_user("audrey", "auditor")
    make_user("casey", "caseworker")
    sign_in(client, "casey")
    assert client.get("/data-rights", follow_redirects=False).status_code == 403
    client.cookies.clear()
    sign_in(client, "audrey")
    page = client.get("/data-rights?subject=pseud-abc")
    assert "1 decision record for pseud-abc" in page.text
    exported = client.get("/data-rights/export.json?subject=pseud-abc")
    assert exported.json()["subject_ref"] == "pseud-abc"
    assert "attachment" in exported.headers["content-disposition"]
    missing = post_form(
        client,
        "/data-rights/erase",
        {"subject": "pseud-abc", "reason": ""},
        page="/data-rights?subject=pseud-abc",
    )
    assert missing.status_code == 422 and "Give the reason for erasure" in missing.text
    assert _count(engine) == 1
    done = post_form(
        client,
        "/data-rights/erase",
        {"subject": "pseud-abc", "reason": "ER-7"},
        page="/data-rights?subject=pseud-abc",
    )
    assert done.status_code == 200 and "1 record erased" in done.text
    assert _count(engine) == 0


def test_cli_purge_uses_the_settings_rules(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from townhall.cli import app as cli
    from townhall.settings import get_settings

    _age(engine, propose(engine), 40)
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("TOWNHALL_RETENTION_DAYS", '{"decision_records": 30}')
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["retention", "purge", "--json"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["removed"] == {"decision_records": 1}
    assert _count(engine) == 0
