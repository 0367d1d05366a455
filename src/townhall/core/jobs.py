"""Background and scheduled work on Huey: SQLite storage by default, Redis when settings name one.

A job is declared once (``Job``) by the core, the governance layer or a service, and the entry
point collects them all into one queue with ``build_queue``. Each run is also a ``job_runs`` row in
the main database, so staff pages can show progress and failures without reading Huey's storage,
and a run that fails leaves its error there instead of in a log nobody reads.

``townhall serve`` starts a consumer in its own process (threads) unless ``jobs_worker`` is
``external``, in which case ``townhall jobs worker`` runs it; never both, or scheduled jobs run
twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.core.db import Base, UTCDateTime, get_engine, transaction, utcnow
from townhall.core.errors import InvalidInput, NotFound
from townhall.settings import Settings

log = logging.getLogger("townhall.jobs")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    requested_by: Mapped[str] = mapped_column(String(120))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Progress(Protocol):
    def __call__(self, done: int, total: int | None = None, message: str = "") -> None: ...


# run(settings, progress, **params) -> a small JSON-able summary kept on the run
JobFunction = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class Job:
    name: str  # e.g. "retention.purge"; unique across the platform
    run: JobFunction
    description: str
    # A five-field cron expression, or a function of settings giving one (so a schedule can be a
    # setting). None: the job runs only when submitted.
    schedule: str | Callable[[Settings], str] | None = None


def schedule_of(job: Job, settings: Settings) -> str | None:
    return job.schedule(settings) if callable(job.schedule) else job.schedule


def parse_cron(expression: str) -> Callable[[dt.datetime], bool]:
    """'minute hour day month weekday', as cron writes it, into Huey's schedule test."""
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInput(
            f"Schedule {expression!r} must have five fields: minute hour day month weekday."
        )
    minute, hour, day, month, weekday = fields
    try:
        test = crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)
        test(dt.datetime(2000, 1, 1))  # crontab checks its fields lazily
    except ValueError as error:
        raise InvalidInput(
            f"Schedule {expression!r} is not a valid cron expression: {error}"
        ) from None
    return test


def _storage(settings: Settings) -> Huey:
    if settings.jobs_redis_url:
        return RedisHuey("townhall", url=settings.jobs_redis_url, utc=True)
    path = Path(settings.jobs_store)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("townhall", filename=str(path), utc=True)


class Queue:
    """The platform's jobs on one Huey instance; ``submit`` records a run and enqueues it."""

    def __init__(self, settings: Settings, jobs: Sequence[Job]) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise InvalidInput(f"Job names must be unique: {sorted(names)}")
        self.settings = settings
        self.huey = _storage(settings)
        self.jobs = {job.name: job for job in jobs}
        self._tasks: dict[str, Any] = {}
        for job in jobs:
            self._tasks[job.name] = self.huey.task(name=job.name)(self._runner(job))
            expression = schedule_of(job, settings)
            if expression is not None:
                self.huey.periodic_task(parse_cron(expression), name=f"{job.name}@schedule")(
                    self._scheduled(job)
                )

    @property
    def engine(self) -> Any:
        return get_engine(self.settings.database_url, self.settings.database_echo)

    def submit(self, name: str, *, by: str, **params: Any) -> str:
        """Queue a run of job `name`; returns the run id to follow on ``job_runs``."""
        if name not in self.jobs:
            raise NotFound(f"There is no job called {name!r}.")
        run_id = secrets.token_hex(8)
        with transaction(self.engine) as session:
            session.add(JobRun(id=run_id, job=name, requested_by=by, params=params))
        self._tasks[name](run_id, params)
        return run_id

    def run_now(self, name: str, *, by: str, **params: Any) -> JobRun:
        """Run job `name` in this process (the CLI's way), recorded like a queued run."""
        if name not in self.jobs:
            raise NotFound(f"There is no job called {name!r}.")
        run_id = secrets.token_hex(8)
        with transaction(self.engine) as session:
            session.add(JobRun(id=run_id, job=name, requested_by=by, params=params))
        execute(self.settings, self.jobs[name], run_id, params)
        with transaction(self.engine) as session:
            return get_run(session, run_id)

    def _runner(self, job: Job) -> Callable[[str, dict[str, Any]], None]:
        def run(run_id: str, params: dict[str, Any]) -> None:
            execute(self.settings, job, run_id, params)

        run.__name__ = job.name.replace(".", "_")
        return run

    def _scheduled(self, job: Job) -> Callable[[], None]:
        def run() -> None:
            run_id = secrets.token_hex(8)
            with transaction(self.engine) as session:
                session.add(JobRun(id=run_id, job=job.name, requested_by="schedule", params={}))
            execute(self.settings, job, run_id, {})

        run.__name__ = job.name.replace(".", "_") + "_scheduled"
        return run

    def consumer(self, workers: int = 1, *, embedded: bool = True) -> Consumer:
        """A consumer for this queue: ``start()`` an embedded one beside a server (which keeps
        its own signal handlers); ``run()`` a standalone one, which stops on SIGINT/SIGTERM."""
        kind = _EmbeddedConsumer if embedded else Consumer
        return kind(self.huey, workers=workers, worker_type="thread", check_worker_health=False)


class _EmbeddedConsumer(Consumer):
    """A consumer that leaves signal handling to the process it runs in (uvicorn, pytest)."""

    def _set_signal_handlers(self) -> None:
        return None


def execute(settings: Settings, job: Job, run_id: str, params: dict[str, Any]) -> None:
    """Run one job, keeping its status, progress and outcome on its ``job_runs`` row."""
    engine = get_engine(settings.database_url, settings.database_echo)

    def update(**values: Any) -> None:
        with transaction(engine) as session:
            run = session.get(JobRun, run_id)
            if run is not None:
                for key, value in values.items():
                    setattr(run, key, value)

    def progress(done: int, total: int | None = None, message: str = "") -> None:
        update(done=done, total=total, message=message[:500])

    update(status=RUNNING, started_at=utcnow())
    try:
        result = job.run(settings, progress, **params)
    except Exception as error:  # a failed job must be visible on its run, whatever failed
        log.exception("job %s (run %s) failed", job.name, run_id)
        update(
            status=FAILED,
            finished_at=utcnow(),
            error=f"{type(error).__name__}: {error}"[:2000],
            message=traceback.format_exc(limit=3)[-500:],
        )
        return
    update(status=DONE, finished_at=utcnow(), result=result or {})


def get_run(session: Session, run_id: str) -> JobRun:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"There is no job run {run_id!r}.")
    return run


def recent_runs(session: Session, job: str | None = None, limit: int = 50) -> list[JobRun]:
    query = select(JobRun).order_by(JobRun.queued_at.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))
