"""The answer pipeline and the question rate limit, one of each per running app.

Both live on `app.state`, so two apps in one process (tests, or a server with two databases)
never share an index or a client's question count. Also how an ingest job reports progress.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.requests import Request

from townhall.core.errors import Throttled
from townhall.core.jobs import Progress
from townhall.services.assistant.pipeline import Pipeline
from townhall.services.assistant.retrieval import index_for
from townhall.settings import Settings

_lock = threading.Lock()


def build_pipeline(settings: Settings, engine: Engine) -> Pipeline:
    composer = None
    if settings.assistant_composer == "generative":
        from townhall.services.assistant.generative import GenerativeComposer

        composer = GenerativeComposer(settings)
    return Pipeline(lambda: index_for(engine), composer=composer, settings=settings)


def pipeline_for(request: Request) -> Pipeline:
    state = request.app.state
    with _lock:
        if getattr(state, "assistant_pipeline", None) is None:
            state.assistant_pipeline = build_pipeline(state.settings, state.engine)
        return state.assistant_pipeline


def throttle(request: Request) -> None:
    """Refuse (429) a client that has asked too many questions in the last minute."""
    state = request.app.state
    with _lock:
        if getattr(state, "assistant_rate_limit", None) is None:
            state.assistant_rate_limit = RateLimit()
    client = request.client.host if request.client else "unknown"
    state.assistant_rate_limit.check(client, state.settings.assistant_rate_limit_per_minute)


class RateLimit:
    """At most `per_minute` questions from one client address in any 60 seconds.

    Kept in memory per process: it stops one client flooding the model, not a distributed
    attack (that is the reverse proxy's job, see docs/operating.md).
    """

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._seen[client]
            while times and now - times[0] > 60:
                times.popleft()
            if len(times) >= per_minute:
                raise Throttled(
                    "You have asked a lot of questions in the last minute. "
                    "Wait a minute and try again."
                )
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._seen.items() if not v or now - v[-1] > 60]:
                    del self._seen[key]


def progress_beside(session: Session, progress: Progress) -> Progress:
    """`progress` for a job whose work is one transaction on `session`.

    SQLite has a single writer: once that transaction has written, a progress update from the
    job's own connection would wait for the whole ingest and then fail with "database is
    locked", failing the job with it. So on SQLite progress is reported until the first write
    (reading and embedding, the slow part) and the job's result says the rest. PostgreSQL
    locks rows, not the database, and gets every update.
    """
    if session.get_bind().dialect.name != "sqlite":
        return progress

    def report(done: int, total: int | None = None, message: str = "") -> None:
        # The sqlite3 module opens a transaction only before a write, so this says "written".
        raw = session.connection().connection.dbapi_connection
        if raw is not None and getattr(raw, "in_transaction", False):
            return
        progress(done, total, message)

    return report
