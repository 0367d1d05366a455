"""Background jobs on Huey with SQLite storage, run by a real consumer, recorded on job_runs."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from conftest import make_settings, propose
from townhall.core.audit import AuditEntry, verify
from townhall.core.db import transaction, utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.jobs import DONE, FAILED, Job, JobRun, Progress, Queue, get_run, parse_cron
from townhall.governance import retention
from townhall.settings import Settings


def _count_to(settings: Settings, progress: Progress, *, n: int) -> dict[str, Any]:
    for i in range(1, n + 1):
        progress(i, n, f"counted {i}")
    return {"counted": n}


def _explode(settings: Settings, progress: Progress) -> None:
    progress(1, 3, "about to fail")
    raise RuntimeError("the source file vanished")


JOBS = (
    Job("test.count", _count_to, "Counts."),
    Job("test.explode", _explode, "Fails."),
    retention.PURGE_JOB,
)


@pytest.fixture
def queue(database_url: str, engine: Engine, tmp_path: Path) -> Queue:
    settings = make_settings(
        database_url,
        jobs_store=tmp_path / "jobs.db",
        retention_days={"decision_records": 30},
        retention_purge_schedule="30 2 * * *",
    )
    return Queue(settings, JOBS)


def _wait(engine: Engine, run_id: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(engine) as session:
            run = get_run(session, run_id)
        if run.status in (DONE, FAILED):
            return run
        time.sleep(0.05)
    raise AssertionError(f"job run {run_id} did not finish in {timeout} s")


def test_a_real_consumer_runs_a_queued_job_and_records_its_progress(
    queue: Queue, engine: Engine
) -> None:
    consumer = queue.consumer(workers=2)
    consumer.start()
    try:
        run_id = queue.submit("test.count", by="tester", n=5)
        run = _wait(engine, run_id)
    finally:
        consumer.stop(graceful=True)
    assert run.status == DONE
    assert run.result == {"counted": 5}
    assert (run.done, run.total, run.message) == (5, 5, "counted 5")
    assert run.requested_by == "tester" and run.params == {"n": 5}
    assert run.started_at <= run.finished_at


def test_a_failing_job_keeps_its_error_on_the_run(queue: Queue, engine: Engine) -> None:
    consumer = queue.consumer()
    consumer.start()
    try:
        run = _wait(engine, queue.submit("test.explode", by="tester"))
    finally:
        consumer.stop(graceful=True)
    assert run.status == FAILED
    assert run.error == "RuntimeError: the source file vanished"
    assert run.done == 1 and run.result is None


def test_unknown_jobs_and_runs_are_clear_errors(queue: Queue, engine: Engine) -> None:
    with pytest.raises(NotFound, match="no job called 'nope'"):
        queue.submit("nope", by="tester")
    with pytest.raises(NotFound), transaction(engine) as session:
        get_run(session, "0" * 16)


def test_duplicate_job_names_are_refused(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, jobs_store=tmp_path / "jobs.db")
    with pytest.raises(InvalidInput, match="unique"):
        Queue(settings, (JOBS[0], JOBS[0]))


@pytest.mark.parametrize("expression", ["30 2 * *", "61 2 * * *", "every day", "* 25 * * *"])
def test_bad_schedules_are_refused(expression: str) -> None:
    with pytest.raises(InvalidInput, match="Schedule"):
        parse_cron(expression)


def test_the_retention_purge_is_scheduled_from_settings(queue: Queue) -> None:
    periodic = {task.name: task for task in queue.huey._registry.periodic_tasks}
    schedule = periodic["retention.purge@schedule"]
    assert schedule.validate_datetime(dt.datetime(2026, 3, 4, 2, 30))
    assert not schedule.validate_datetime(dt.datetime(2026, 3, 4, 2, 31))
    assert not schedule.validate_datetime(dt.datetime(2026, 3, 4, 14, 30))


def test_the_scheduled_purge_runs_on_the_consumer_is_audited_and_keeps_the_chain(
    queue: Queue, engine: Engine
) -> None:
    old, recent = propose(engine), propose(engine)
    with transaction(engine) as session:
        session.execute(
            update(DecisionRecord)
            .where(DecisionRecord.id == old)
            .values(created_at=utcnow() - dt.timedelta(days=45))
        )
    periodic = {task.name: task for task in queue.huey._registry.periodic_tasks}
    consumer = queue.consumer()
    consumer.start()
    try:
        # What the scheduler enqueues at 02:30, enqueued now.
        queue.huey.enqueue(periodic["retention.purge@schedule"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Session(engine) as session:
                runs = session.scalars(select(JobRun).where(JobRun.status == DONE)).all()
            if runs:
                break
            time.sleep(0.05)
    finally:
        consumer.stop(graceful=True)
    assert len(runs) == 1 and runs[0].requested_by == "schedule"
    assert runs[0].result == {"removed": {"decision_records": 1}}
    with Session(engine) as session:
        assert session.get(DecisionRecord, old) is None
        assert session.get(DecisionRecord, recent) is not None
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and last.actor == "job:retention"
        assert verify(session).ok


def test_cli_runs_a_job_now_and_lists_it(
    database_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from townhall.cli import app as cli
    from townhall.settings import get_settings

    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("TOWNHALL_JOBS_STORE", str(tmp_path / "jobs.db"))
    get_settings.cache_clear()
    try:
        ran = CliRunner().invoke(cli, ["jobs", "run", "retention.purge"])
        listed = CliRunner().invoke(cli, ["jobs", "list"])
        unknown = CliRunner().invoke(cli, ["jobs", "run", "nope"])
    finally:
        get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("retention.purge: done")
    assert "retention.purge" in listed.output and "30 2 * * *" in listed.output
    assert " done " in listed.output
    assert unknown.exit_code == 1 and "no job called 'nope'" in unknown.output
