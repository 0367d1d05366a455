"""Service level clocks in working days (Monday to Friday).

The clock stops while the council waits for the citizen (more information requested) and starts
again when they reply, so a case is never counted late for time the council could not act.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """`days` working days after `start`, at the same time of day; from a weekend, Monday counts
    as the first."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += dt.timedelta(days=1)
        if moment.weekday() < 5:
            remaining -= 1
    return moment


def working_days_between(earlier: dt.date, later: dt.date) -> int:
    """Working days after `earlier` up to and including `later` (0 if later is not after)."""
    count = 0
    day = earlier
    while day < later:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return count


@dataclass(frozen=True)
class Clock:
    due: dt.datetime | None
    paused: bool
    breached: bool
    working_days_left: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "paused": self.paused,
            "breached": self.breached,
            "working_days_left": self.working_days_left,
        }


def clock(
    due: dt.datetime | None,
    paused_at: dt.datetime | None,
    closed: bool,
    now: dt.datetime,
) -> Clock:
    """Where a case's clock stands: a paused clock is measured at the moment it stopped."""
    if due is None:
        return Clock(None, False, False, None)
    at = paused_at or now
    breached = not closed and at > due
    left = None
    if not closed:
        left = working_days_between(at.date(), due.date())
        if breached:
            left = -working_days_between(due.date(), at.date())
    return Clock(due, paused_at is not None and not closed, breached, left)


def resume(due: dt.datetime, paused_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The new due time once a paused clock starts again: pushed back by the time it stood."""
    return due + max(now - paused_at, dt.timedelta(0))
