"""The audit chain catches an edited, deleted or reordered entry, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from townhall.cli import app as cli
from townhall.core import audit
from townhall.core.db import transaction


def _write_entries(engine: Engine, n: int = 5) -> None:
    with transaction(engine) as session:
        for i in range(n):
            audit.log(session, f"user:{i}", "test.action", f"thing:{i}", {"n": i, "note": "é"})


def _drop_guards(engine: Engine) -> None:
    """Play a database administrator who removes the append-only triggers first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entries_no_change ON audit_entries"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))


def _verify(engine: Engine) -> audit.Verification:
    with Session(engine) as session:
        return audit.verify(session)


def test_intact_log_verifies(engine: Engine) -> None:
    _write_entries(engine)
    result = _verify(engine)
    assert result.ok and result.checked == 5


def test_database_refuses_update_and_delete_of_entries(engine: Engine) -> None:
    _write_entries(engine, 2)
    for statement in ("UPDATE audit_entries SET actor = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(engine).ok


def test_edited_entry_is_named(engine: Engine) -> None:
    _write_entries(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET target = 'thing:99' WHERE seq = 3"))
    result = _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "changed" in result.problem


def test_edited_detail_is_caught(engine: Engine) -> None:
    _write_entries(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET detail = '{\"n\": 100}' WHERE seq = 2"))
    assert _verify(engine).first_bad_seq == 2


def test_deleted_entry_is_named(engine: Engine) -> None:
    _write_entries(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 2
    assert "deleted" in result.problem


def test_deleting_the_newest_entries_is_caught(engine: Engine) -> None:
    _write_entries(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= 4"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 4


def test_reordered_entries_are_named(engine: Engine) -> None:
    _write_entries(engine)
    _drop_guards(engine)
    # Swap the sequence numbers of entries 2 and 3 (through a spare value, as seq is unique).
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE audit_entries SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = -1"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 2


def test_entry_rolls_back_with_the_change_it_records(engine: Engine) -> None:
    _write_entries(engine, 1)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        audit.log(session, "user:1", "test.action", "thing:1")
        raise RuntimeError("the change failed")
    result = _verify(engine)
    assert result.ok and result.checked == 1


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_cli_verify_exits_non_zero_and_names_first_bad_entry(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    _write_entries(engine)
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "x" * 32)
    from townhall.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "5 entries verified" in ok.output
    _drop_guards(engine)
    statements = {
        "edit": ["UPDATE audit_entries SET actor = 'intruder' WHERE seq = 4"],
        "delete": ["DELETE FROM audit_entries WHERE seq = 4"],
        "reorder": [
            "UPDATE audit_entries SET seq = -1 WHERE seq = 4",
            "UPDATE audit_entries SET seq = 4 WHERE seq = 5",
            "UPDATE audit_entries SET seq = 5 WHERE seq = -1",
        ],
    }[tamper]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    broken = runner.invoke(cli, ["audit", "verify"])
    get_settings.cache_clear()
    assert broken.exit_code == 1
    assert "broken at entry 4" in broken.output
