"""`townhall models ...`: registering from files, the lifecycle with four eyes, clear refusals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from townhall.cli import app as cli
from townhall.core import auth, registry
from townhall.core.audit import AuditEntry, verify
from townhall.core.db import transaction
from townhall.settings import get_settings

CARD = {
    "purpose": "Triage missed-bin reports",
    "owner": "Waste team",
    "training_data": "Reports 2024-2026",
    "limitations": "Not for commercial waste",
}
PASSED = {"verdict": "pass", "use": "assistive", "rows": 1200}

Run = Callable[..., Result]


@pytest.fixture
def run(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """Invoke `townhall` against the test database; every argument is turned into text."""
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, [str(a) for a in args])
    get_settings.cache_clear()


@pytest.fixture
def people(make_user: Callable[..., auth.User]) -> None:
    make_user("ana", "analyst")
    make_user("bob", "admin")
    make_user("audrey", "auditor")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "artifact": tmp_path / "triage.joblib",
        "training": tmp_path / "training.csv",
        "metrics": tmp_path / "metrics.json",
        "card": tmp_path / "card.yaml",
        "fairness": tmp_path / "fairness.json",
    }
    paths["artifact"].write_bytes(b"model bytes \x00\x01")
    paths["training"].write_text("report,urgent\nbin missed,1\n")
    paths["metrics"].write_text(json.dumps({"accuracy": 0.91, "auc": 0.88}))
    paths["card"].write_text(yaml.safe_dump({**CARD, "reviewed": "2026-01-05"}))
    paths["fairness"].write_text(json.dumps(PASSED))
    return paths


def _register(run: Run, files: dict[str, Path], version: str = "1.0", *extra: object) -> Result:
    return run(
        "models",
        "register",
        "triage",
        version,
        "--artifact",
        files["artifact"],
        "--training-data",
        files["training"],
        "--metrics",
        files["metrics"],
        "--by",
        "ana",
        *extra,
    )


def _complete(run: Run, files: dict[str, Path], version: str = "1.0") -> Result:
    """Registered with a model card and a passed fairness audit."""
    return _register(run, files, version, "--card", files["card"], "--fairness", files["fairness"])


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _refused(result: Result, message: str) -> None:
    """Exit 1, nothing on stdout, and one line on stderr naming the problem."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


def _status(engine: Engine, version: str) -> str:
    with Session(engine) as session:
        return registry.get(session, "triage", version).status


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_register_records_file_digests_and_evidence_and_is_audited(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    result = _ok(_complete(run, files))
    info = json.loads(_ok(run("models", "show", "triage", "1.0", "--json")).stdout)
    assert "registered triage 1.0 as a candidate" in result.stdout
    assert (
        info["training_data_digest"] == hashlib.sha256(files["training"].read_bytes()).hexdigest()
    )
    artifact_digest = hashlib.sha256(files["artifact"].read_bytes()).hexdigest()
    assert info["artifact_sha256"] == artifact_digest
    assert (
        info["artifact_uri"] == f"{files['artifact'].resolve().as_uri()}#sha256={artifact_digest}"
    )
    assert info["metrics"] == {"accuracy": 0.91, "auc": 0.88}
    assert info["model_card"] == {**CARD, "reviewed": "2026-01-05"}
    assert info["fairness"] == PASSED
    assert info["status"] == "candidate" and info["registered_by"] == "ana"
    assert info["promotion_blockers"] == []
    with Session(engine) as session:
        model = registry.get(session, "triage", "1.0")
        assert registry.artifact_location(model) == (files["artifact"].resolve(), artifact_digest)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "model.registered")
        ).one()
        ana = session.scalars(select(auth.User).where(auth.User.username == "ana")).one()
        assert entry.actor == f"user:{ana.id}" and entry.target == "model:triage:1.0"
        assert verify(session).ok


def test_register_dates_in_the_card_are_kept_as_iso_text(
    run: Run, people: None, files: dict[str, Path]
) -> None:
    files["card"].write_text("purpose: Triage\nreviewed: 2026-01-05\n")
    _ok(_register(run, files, "1.0", "--card", files["card"], "--json"))
    info = json.loads(run("models", "show", "triage", "1.0", "--json").stdout)
    assert info["model_card"] == {"purpose": "Triage", "reviewed": "2026-01-05"}
    assert "the model card lacks owner, training_data, limitations" in "; ".join(
        info["promotion_blockers"]
    )


def test_lifecycle_shadow_then_four_eyes_promotion_then_withdrawal(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    _ok(_complete(run, files, "1.0"))
    assert (
        "running in shadow" in _ok(run("models", "shadow", "triage", "1.0", "--by", "ana")).stdout
    )
    _ok(run("models", "request-promotion", "triage", "1.0", "--by", "ana"))
    _refused(run("models", "approve", "triage", "1.0", "--by", "ana"), "four eyes")
    assert _status(engine, "1.0") == "shadow"
    assert (
        "triage 1.0 is live" in _ok(run("models", "approve", "triage", "1.0", "--by", "bob")).stdout
    )
    shown = json.loads(_ok(run("models", "show", "triage", "--json")).stdout)  # the live one
    assert shown["version"] == "1.0" and shown["status"] == "live"
    assert shown["promotion_requested_by"] == "ana" and shown["approved_by"] == "bob"
    assert shown["live_since"] is not None

    _ok(_complete(run, files, "2.0"))
    _ok(run("models", "request-promotion", "triage", "2.0", "--by", "bob"))
    promoted = _ok(run("models", "approve", "triage", "2.0", "--by", "ana"))
    assert "triage 2.0 is live; version 1.0 retired" in promoted.stdout
    assert _status(engine, "1.0") == "retired"

    withdrawn = run("models", "withdraw", "triage", "2.0", "--by", "bob", "--reason", "Complaints")
    assert "triage 2.0 is withdrawn" in _ok(withdrawn).stdout
    text = _ok(run("models", "show", "triage", "2.0")).stdout
    assert "triage version 2.0: retired" in text and "withdrawn       Complaints" in text
    with Session(engine) as session:
        assert registry.live(session, "triage") is None
        assert verify(session).ok
    actions = _actions(engine)
    for action in (
        "model.registered",
        "model.shadow_started",
        "model.promotion_requested",
        "model.promoted",
        "model.retired",
        "model.withdrawn",
    ):
        assert action in actions
    assert actions.count("model.promoted") == 2


def test_evidence_can_be_attached_after_registration(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    _ok(_register(run, files))
    _refused(
        run("models", "request-promotion", "triage", "1.0", "--by", "ana"),
        "the fairness audit has not passed (verdict: none); the model card lacks purpose",
    )
    _refused(run("models", "evidence", "triage", "1.0", "--by", "ana"), "give --card")
    added = run(
        "models", "evidence", "triage", "1.0", "--by", "ana", "--card", files["card"],
        "--fairness", files["fairness"], "--json",
    )  # fmt: skip
    assert json.loads(_ok(added).stdout)["promotion_blockers"] == []
    assert "model.evidence_attached" in _actions(engine)
    _ok(run("models", "request-promotion", "triage", "1.0", "--by", "ana"))


def test_agreement_reports_shadow_outputs(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    _ok(_register(run, files, "2.0"))
    _ok(run("models", "shadow", "triage", "2.0", "--by", "ana"))
    with transaction(engine) as session:
        model = registry.get(session, "triage", "2.0")
        for shadow, live in [("urgent", "urgent"), ("routine", "urgent"), ("urgent", None)]:
            registry.record_shadow(
                session,
                model,
                input_digest="0" * 64,
                shadow_output={"outcome": shadow},
                live_output={"outcome": live} if live else None,
                live_model=None,
            )
    report = json.loads(_ok(run("models", "agreement", "triage", "2.0", "--json")).stdout)
    assert report == {"outputs": 3, "compared": 2, "agreed": 1, "agreement_rate": 0.5}
    text = _ok(run("models", "agreement", "triage", "2.0")).stdout
    assert "3 shadow outputs, 2 compared with the live model, 1 agreed (50.0%)" in text


def test_show_without_a_version_needs_a_live_one(
    run: Run, people: None, files: dict[str, Path]
) -> None:
    _refused(run("models", "show", "triage"), "No model called triage")
    _ok(_register(run, files, "1.0"))
    _ok(_register(run, files, "1.1"))
    _refused(run("models", "show", "triage"), "triage has no live version; name one of: 1.0, 1.1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"by": "nobody"}, "No user called 'nobody'"),
        ({"by": "audrey"}, "audrey (auditor) is not allowed to manage models"),
        ({"metrics": "{accuracy: 0.9"}, "is not valid JSON"),
        ({"metrics": "[0.9]"}, "must hold a non-empty JSON object"),
        ({"metrics": '{"accuracy": NaN}'}, "NaN is not a number JSON allows"),
        ({"card": "purpose: [unclosed\n"}, "is not valid YAML"),
        ({"card": "- purpose\n- owner\n"}, "must hold a YAML mapping"),
        ({"fairness": '{"use": "assistive"}'}, "has no verdict"),
        ({"artifact": None}, "Cannot read"),
        ({"training": None}, "Cannot read"),
    ],
)
def test_register_refuses_bad_input_and_writes_nothing(
    run: Run,
    people: None,
    files: dict[str, Path],
    engine: Engine,
    change: dict[str, str | None],
    message: str,
) -> None:
    change = dict(change)  # parametrize shares one dict between the SQLite and PostgreSQL runs
    by = change.pop("by", "ana")
    for key, content in change.items():
        if content is None:
            files[key].unlink()
        else:
            files[key].write_text(content)
    before = _actions(engine)
    result = run(
        "models", "register", "triage", "1.0", "--artifact", files["artifact"],
        "--training-data", files["training"], "--metrics", files["metrics"],
        "--card", files["card"], "--fairness", files["fairness"], "--by", by,
    )  # fmt: skip
    _refused(result, message)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(registry.RegisteredModel)) == 0
    assert _actions(engine) == before


def test_a_version_cannot_be_registered_twice(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    _ok(_register(run, files))
    _refused(_register(run, files), "triage version 1.0 is already registered")
    assert _actions(engine).count("model.registered") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["show", "triage", "9.9"],
        ["shadow", "triage", "9.9", "--by", "ana"],
        ["request-promotion", "triage", "9.9", "--by", "ana"],
        ["approve", "triage", "9.9", "--by", "bob"],
        ["withdraw", "triage", "9.9", "--by", "bob", "--reason", "x"],
        ["agreement", "triage", "9.9"],
        ["evidence", "triage", "9.9", "--by", "ana", "--card", "CARD"],
    ],
)
def test_unknown_versions_are_a_clear_error(
    run: Run, people: None, files: dict[str, Path], args: list[str]
) -> None:
    _ok(_register(run, files))
    args = [str(files["card"]) if a == "CARD" else a for a in args]
    _refused(run("models", *args), "No model triage version 9.9")


def test_lifecycle_refusals_change_nothing(
    run: Run, people: None, files: dict[str, Path], engine: Engine
) -> None:
    _ok(_complete(run, files))
    _refused(run("models", "approve", "triage", "1.0", "--by", "bob"), "Nobody has asked")
    _refused(run("models", "shadow", "triage", "1.0", "--by", "nobody"), "No user called")
    _refused(run("models", "shadow", "triage", "1.0", "--by", "audrey"), "not allowed")
    _refused(
        run("models", "withdraw", "triage", "1.0", "--by", "bob", "--reason", "  "),
        "Give the reason for withdrawing this model",
    )
    assert _status(engine, "1.0") == "candidate"
    _ok(run("models", "withdraw", "triage", "1.0", "--by", "bob", "--reason", "Superseded"))
    _refused(run("models", "shadow", "triage", "1.0", "--by", "ana"), "Only a candidate")
    _refused(
        run("models", "evidence", "triage", "1.0", "--by", "ana", "--card", files["card"]),
        "Evidence is fixed",
    )
    assert _actions(engine).count("model.withdrawn") == 1
