"""Fairness audits over decision records, with characteristics held apart under a lawful basis."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from conftest import propose, sign_in
from townhall.core import auth
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput
from townhall.governance import retention
from townhall.governance.characteristics import NOT_RECORDED, record_characteristic
from townhall.governance.fairness import FairnessAuditError, audit
from townhall.governance.fairness_policy import policy_in_force
from townhall.governance.fairness_records import audit_decision_type, decisions_frame

BASIS = "UK GDPR Art. 9(2)(g); DPA 2018 Sch. 1 para 8 (equality of opportunity)"


def _seed(engine: Engine, n: int = 240) -> None:
    """Reviewed triage decisions; women get more false 'urgent' proposals than men."""
    rng = np.random.default_rng(3)
    for i in range(n):
        sex = "female" if i % 2 else "male"
        truth = rng.random() < 0.3
        wrong_positive = rng.random() < (0.3 if sex == "female" else 0.05)
        proposed = "urgent" if truth or wrong_positive else "routine"
        decided = "urgent" if truth else "routine"
        ref = f"pseud-{i:04d}"
        decision_id = propose(engine, subject_ref=ref, output={"outcome": proposed})
        with transaction(engine) as session:
            session.execute(
                update(DecisionRecord)
                .where(DecisionRecord.id == decision_id)
                .values(
                    status="accepted" if proposed == decided else "overridden",
                    final_output={"outcome": decided},
                )
            )
            if i < n - 10:  # the last ten have no recorded sex
                record_characteristic(
                    session,
                    subject_ref=ref,
                    characteristic="sex",
                    value=sex,
                    lawful_basis=BASIS,
                    source="application form",
                    actor="job:test",
                )


def test_audit_over_records_matches_the_frame_audit_and_shows_gaps(engine: Engine) -> None:
    _seed(engine)
    with transaction(engine) as session:
        frame = decisions_frame(session, "casework.triage", positive_outcome="urgent", by=["sex"])
        assert (frame["sex"] == NOT_RECORDED).sum() == 10
        report = audit_decision_type(
            session,
            "casework.triage",
            by=["sex"],
            positive_outcome="urgent",
            use="punitive",
            actor="user:1",
            n_bootstrap=200,
            min_group_size=30,
        )
    direct = audit(
        frame,
        y_pred="proposed",
        y_true="decided",
        by=["sex"],
        use="punitive",
        n_bootstrap=200,
        random_state=0,
        min_group_size=30,
    )
    assert report.to_dict() == direct.to_dict()
    assert report.verdict == "fail"  # the false-positive rates differ by far more than 0.8
    statuses = {g.label: g.status for g in report.groups}
    assert statuses[NOT_RECORDED] == "insufficient evidence"
    with Session(engine) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and last.action == "fairness.audited"
        assert last.detail["verdict"] == "fail"
        values_logged = [
            e.detail
            for e in session.scalars(select(AuditEntry))
            if e.action == "characteristic.recorded"
        ]
        assert values_logged and all("value" not in d for d in values_logged)


def test_characteristics_need_a_lawful_basis_and_a_known_name(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="lawful basis"), transaction(engine) as session:
        record_characteristic(
            session,
            subject_ref="p",
            characteristic="sex",
            value="female",
            lawful_basis=" ",
            source="form",
            actor="t",
        )
    with (
        pytest.raises(InvalidInput, match="not a protected characteristic"),
        transaction(engine) as session,
    ):
        record_characteristic(
            session,
            subject_ref="p",
            characteristic="postcode",
            value="EX1",
            lawful_basis=BASIS,
            source="form",
            actor="t",
        )


def test_unknown_type_and_unreviewed_decisions_are_clear_errors(engine: Engine) -> None:
    propose(engine, subject_ref="pseud-1")
    with Session(engine) as session:
        with pytest.raises(FairnessAuditError, match="No decisions of type 'nope'"):
            audit_decision_type(
                session, "nope", by=["sex"], positive_outcome="x", use="punitive", actor="t"
            )
        with pytest.raises(FairnessAuditError, match="reviewed yet"):
            audit_decision_type(
                session,
                "casework.triage",
                by=["sex"],
                positive_outcome="x",
                use="punitive",
                actor="t",
            )
        with pytest.raises(InvalidInput, match="Not protected characteristics: postcode"):
            decisions_frame(session, "casework.triage", positive_outcome="x", by=["postcode"])


def test_subject_access_and_erasure_cover_characteristics(engine: Engine) -> None:
    propose(engine, subject_ref="pseud-9")
    with transaction(engine) as session:
        record_characteristic(
            session,
            subject_ref="pseud-9",
            characteristic="disability",
            value="yes",
            lawful_basis=BASIS,
            source="form",
            actor="t",
        )
        report = retention.subject_access(session, "pseud-9", actor="t")
        assert report["protected_characteristics"][0]["lawful_basis"] == BASIS
        assert retention.erase(session, "pseud-9", actor="t", reason="ER-1") == 2


def test_fairness_page_chart_and_csv(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    _seed(engine, 120)
    make_user("ana", "analyst")
    make_user("casey", "caseworker")
    query = "decision_type=casework.triage&by=sex&positive=urgent&use=punitive"
    sign_in(client, "casey")
    assert client.get(f"/fairness?{query}", follow_redirects=False).status_code == 403
    client.cookies.clear()
    sign_in(client, "ana")
    page = client.get(f"/fairness?{query}")
    assert page.status_code == 200 and "Verdict: fail" in page.text
    chart = client.get(f"/fairness/chart.png?{query}")
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"
    table = client.get(f"/fairness/report.csv?{query}")
    assert table.text.startswith("group,sex,count,status,metric")
    missing = client.get("/fairness?decision_type=casework.triage&positive=urgent")
    assert missing.status_code == 422 and "Choose at least one characteristic" in missing.text


def test_cli_audit_over_records(
    engine: Engine,
    database_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from typer.testing import CliRunner

    from townhall.cli import app as cli
    from townhall.settings import get_settings

    _seed(engine, 120)
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    get_settings.cache_clear()
    out = tmp_path / "audit.csv"
    args = [
        "fairness",
        "audit",
        "casework.triage",
        "--by",
        "sex",
        "--positive",
        "urgent",
        "--use",
        "punitive",
        "--bootstrap",
        "100",
        "--json",
        "--csv",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    bad = CliRunner().invoke(cli, [*args[:4], "postcode", *args[5:]])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "fail"
    assert out.read_text().startswith("group,sex,count")
    assert bad.exit_code == 2 and "Not protected characteristics: postcode" in bad.output


def _policy_file(tmp_path, later: date) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.yaml"
    path.write_text(
        "- from: 2024-04-01\n"
        "  policy: Fairness audit standard, as first adopted\n"
        "  min_group_size: 30\n"
        "  min_ratio: {punitive: 0.8, assistive: 0.8}\n"
        f"- from: {later.isoformat()}\n"
        "  policy: Fairness audit standard, revised\n"
        "  min_group_size: 40\n"
        "  min_ratio: {punitive: 0.9, assistive: 0.8}\n",
        encoding="utf-8",
    )
    return path


def test_audit_over_records_uses_the_policy_in_force_and_logs_it(
    engine: Engine,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    _seed(engine, 120)
    path = _policy_file(tmp_path, date(2026, 1, 1))
    options = dict(by=["sex"], positive_outcome="urgent", use="punitive", actor="user:1")
    with transaction(engine) as session:
        old = audit_decision_type(
            session, "casework.triage", policy_file=path, on=date(2025, 6, 1), **options
        )
        new = audit_decision_type(
            session, "casework.triage", policy_file=path, on=date(2026, 1, 1), **options
        )
        shipped = audit_decision_type(session, "casework.triage", **options)
    assert (old.threshold, old.min_group_size, old.policy_from) == (0.8, 30, date(2024, 4, 1))
    assert old.policy_reference == "Fairness audit standard, as first adopted"
    assert (new.threshold, new.min_group_size, new.policy_from) == (0.9, 40, date(2026, 1, 1))
    assert new.policy_reference == "Fairness audit standard, revised"
    assert shipped.policy_reference == policy_in_force().policy
    assert shipped.audited_on == date.today()
    with Session(engine) as session:
        logged = [
            e.detail
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            if e.action == "fairness.audited"
        ]
    assert [(d["policy_from"], d["threshold"], d["min_group_size"]) for d in logged] == [
        ("2024-04-01", 0.8, 30),
        ("2026-01-01", 0.9, 40),
        ("2024-04-01", 0.8, 30),
    ]


def test_fairness_page_states_the_policy_it_judged_by(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    make_user: Callable[..., auth.User],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    _seed(engine, 120)
    path = _policy_file(tmp_path, date.today())
    app.state.settings = app.state.settings.model_copy(update={"fairness_policy_file": path})
    make_user("ana", "analyst")
    sign_in(client, "ana")
    query = "decision_type=casework.triage&by=sex&positive=urgent&use=punitive"
    page = client.get(f"/fairness?{query}")
    assert page.status_code == 200
    assert "Fairness audit standard, revised" in page.text
    assert f'In force from</dt><dd class="govuk-summary-list__value">{date.today()}' in page.text
    assert "Minimum false positive rate ratio</dt>" in page.text
    assert '<dd class="govuk-summary-list__value">0.9</dd>' in page.text
    assert '<dd class="govuk-summary-list__value">40</dd>' in page.text
    rows = list(csv.DictReader(io.StringIO(client.get(f"/fairness/report.csv?{query}").text)))
    assert {r["policy_reference"] for r in rows} == {"Fairness audit standard, revised"}
    assert {(r["threshold"], r["min_group_size"]) for r in rows} == {("0.9", "40")}
    overridden = client.get(f"/fairness?{query}&min_group_size=25")
    assert "25 (set for this audit, not by the policy)" in overridden.text


def test_cli_audit_takes_a_policy_file_and_an_audit_date(
    engine: Engine,
    database_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from typer.testing import CliRunner

    from townhall.cli import app as cli
    from townhall.settings import get_settings

    _seed(engine, 120)
    path = _policy_file(tmp_path, date.today())
    broken = tmp_path / "broken.yaml"
    broken.write_text("- from: 2024-04-01\n  min_group_size: 30\n", encoding="utf-8")
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    args = ["fairness", "audit", "casework.triage", "--by", "sex", "--positive", "urgent"]
    args += ["--use", "punitive", "--bootstrap", "50"]
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        earlier = runner.invoke(cli, [*args, "--json", "--policy", str(path), "--on", "2025-01-31"])
        today = runner.invoke(cli, [*args, "--policy", str(path)])
        too_early = runner.invoke(cli, [*args, "--policy", str(path), "--on", "2024-03-31"])
        bad_date = runner.invoke(cli, [*args, "--on", "31/01/2025"])
        bad_file = runner.invoke(cli, [*args, "--policy", str(broken)])
        monkeypatch.setenv("TOWNHALL_FAIRNESS_POLICY_FILE", str(path))
        get_settings.cache_clear()
        from_setting = runner.invoke(cli, [*args, "--json"])
    finally:
        get_settings.cache_clear()
    assert earlier.exit_code == 0, earlier.output
    data = json.loads(earlier.output)
    assert data["policy_reference"] == "Fairness audit standard, as first adopted"
    assert (data["policy_from"], data["audited_on"]) == ("2024-04-01", "2025-01-31")
    assert (data["threshold"], data["min_group_size"]) == (0.8, 30)
    assert today.exit_code == 0, today.output
    assert "Fairness audit standard, revised" in today.output
    assert f"policy in force from {date.today()}" in today.output
    assert "minimum ratio 0.9; minimum group size 40" in today.output
    assert too_early.exit_code == 2 and "no entry is in force on 2024-03-31" in too_early.output
    assert bad_date.exit_code == 2 and "--on must be a date written YYYY-MM-DD" in bad_date.output
    assert bad_file.exit_code == 2 and "broken.yaml: entry 1 needs a policy" in bad_file.output
    assert from_setting.exit_code == 0, from_setting.output
    assert json.loads(from_setting.output)["policy_reference"] == (
        "Fairness audit standard, revised"
    )
