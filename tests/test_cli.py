"""The `townhall` command: help everywhere, db upgrade, users add, demo loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.main import get_command
from typer.testing import CliRunner

from townhall.cli import app as cli
from townhall.core import auth, decisions
from townhall.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fresh_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "s" * 32)
    monkeypatch.setenv("TOWNHALL_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("TOWNHALL_PASSWORD_MEMORY_KIB", "1024")
    # setenv (not delenv) so that what `townhall demo` writes to os.environ is undone afterwards.
    monkeypatch.setenv("TOWNHALL_DEMO_MODE", "false")
    monkeypatch.setenv("TOWNHALL_LOG_JSON", "false")
    # `townhall demo` trains the demo router where the settings say: here, not in ./var.
    monkeypatch.setenv("TOWNHALL_ROUTING_MODEL_PATH", str(tmp_path / "models" / "routing.joblib"))
    monkeypatch.setenv("TOWNHALL_CASEWORK_EVIDENCE_DIR", str(tmp_path / "evidence"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _all_commands(group: typer.Typer) -> list[list[str]]:
    command = get_command(group)
    paths: list[list[str]] = [[]]

    def walk(cmd, prefix: list[str]) -> None:  # type: ignore[no-untyped-def]
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(command, [])
    return paths


def test_every_command_has_help() -> None:
    paths = _all_commands(cli)
    assert ["serve"] in paths and ["demo"] in paths and ["db", "upgrade"] in paths
    assert ["users", "add"] in paths and ["audit", "verify"] in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_missing_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOWNHALL_SECRET_KEY", raising=False)
    monkeypatch.delenv("TOWNHALL_DEMO_MODE", raising=False)
    get_settings.cache_clear()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "TOWNHALL_SECRET_KEY is not set" in result.output


def test_db_upgrade_then_users_add(fresh_db: str) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(
        cli,
        ["users", "add", "casey", "--role", "caseworker"],
        input="a long enough password\na long enough password\n",
    )
    assert added.exit_code == 0, added.output
    with Session(create_engine(fresh_db)) as session:
        user = session.scalars(select(auth.User)).one()
        assert user.role == "caseworker" and user.password_hash.startswith("$argon2id$")
    listing = runner.invoke(cli, ["users", "list"])
    assert "casey" in listing.output and "caseworker" in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "casey", "--role", "wizard"], "Unknown role"),
        (["users", "add", "casey", "--role", "analyst", "--team", "nope"], "No team called"),
        (["users", "add", "x", "--role", "analyst"], "Username must be"),
    ],
)
def test_users_add_reports_bad_input(fresh_db: str, args: list[str], message: str) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    result = runner.invoke(cli, args, input="a long enough password\na long enough password\n")
    assert result.exit_code == 1
    assert message in result.output
    with Session(create_engine(fresh_db)) as session:
        assert session.scalars(select(auth.User)).first() is None


def test_demo_loads_the_fictional_council_and_prints_logins(fresh_db: str) -> None:
    first = runner.invoke(cli, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "Exampleshire Council (fictional demo)" in first.output
    for role in ("admin", "caseworker", "investigator", "analyst", "auditor"):
        assert f"  {role}" in first.output
    second = runner.invoke(cli, ["demo", "--no-serve"])  # idempotent; fresh passwords
    assert second.exit_code == 0
    with Session(create_engine(fresh_db)) as session:
        teams = {t.slug for t in session.scalars(select(auth.Team))}
        assert {"council-tax", "housing-benefit", "waste", "parking", "planning"} <= teams
        assert len(session.scalars(select(auth.User)).all()) == 6
        # The core's examples, once; services' demos add their own decisions (casework triage).
        examples = session.scalars(
            select(decisions.DecisionRecord).where(
                decisions.DecisionRecord.model_name == "demo-examples"
            )
        ).all()
        assert len(examples) == 3 and all(d.model_version == "fictional" for d in examples)
    verify = runner.invoke(cli, ["audit", "verify"])
    assert verify.exit_code == 0 and "intact" in verify.output


def test_demo_passwords_sign_in(fresh_db: str) -> None:
    from fastapi.testclient import TestClient

    from conftest import sign_in
    from townhall.app import create_app

    result = runner.invoke(cli, ["demo", "--no-serve"])
    line = next(row for row in result.output.splitlines() if row.startswith("  auditor "))
    password = line.split()[1]
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        sign_in(client, "auditor", password)
        assert "Audit log" in client.get("/staff").text
