"""An anonymised extract of cases for analysis, through the governance layer's k-anonymity code.

One row per submitted case: what it was, how it went and how long it took, with age (from a date
of birth), postcode and the month it came in as quasi-identifiers, generalised until every
combination is shared by at least k cases (and, with l > 1, shows l different outcomes). Names,
contact details, free text and references never leave; cells that a spreadsheet would run as a
formula are made inert.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core.auth import Team
from townhall.core.db import utcnow
from townhall.governance.anonymise import (
    AnonymisedExport,
    anonymise,
    numeric_bands,
    truncate,
    uk_postcode,
)
from townhall.services.casework.formulas import age_on
from townhall.services.casework.models import OPEN, Case, Status
from townhall.services.casework.sla import clock

QUASI = ("age", "postcode", "submitted_month")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _row(case: Case, teams: dict[int, str], now: dt.datetime) -> dict[str, Any]:
    answers = case.answers or {}
    birth = answers.get("date_of_birth")
    submitted = case.submitted_at or case.created_at
    age = None
    if isinstance(birth, str):
        try:
            age = age_on(dt.date.fromisoformat(birth), submitted.date())
        except ValueError:
            age = None
    closed = case.status not in {status.value for status in OPEN}
    end = case.decided_at or now
    return {
        "form": case.form,
        "channel": case.channel,
        "team": teams.get(case.team_id or 0, ""),
        "status": case.status,
        "priority": case.priority or "",
        "recommendation": case.recommendation or "",
        "outcome": case.outcome or "open",
        "agreed_with_rules": (case.outcome == case.recommendation) if case.outcome else None,
        "days_to_decision": round((end - submitted).total_seconds() / 86400, 1)
        if case.decided_at
        else None,
        "sla_breached": clock(case.sla_due_at, case.sla_paused_at, closed, now).breached
        or bool(case.decided_at and case.sla_due_at and case.decided_at > case.sla_due_at),
        "age": age,
        "postcode": answers.get("postcode") or "*",
        "submitted_month": submitted.strftime("%Y-%m"),
    }


def cases_frame(session: Session, *, form: str | None = None) -> pd.DataFrame:
    query = select(Case).where(Case.status != Status.DRAFT.value)
    if form:
        query = query.where(Case.form == form)
    now = utcnow()
    teams = dict(session.execute(select(Team.id, Team.slug)).all())
    return pd.DataFrame(
        [_row(case, teams, now) for case in session.scalars(query.order_by(Case.id))]
    )


def inert(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def anonymised_extract(
    session: Session,
    *,
    k: int = 5,
    l: int = 1,  # noqa: E741 - the standard name
    form: str | None = None,
    max_suppression: float = 0.05,
) -> AnonymisedExport:
    frame = cases_frame(session, form=form)
    if frame.empty:
        from townhall.governance.anonymise import AnonymisationError

        raise AnonymisationError("There are no submitted cases to extract.")
    export = anonymise(
        frame,
        quasi_identifiers={
            "age": numeric_bands(5, 10, 20),
            "postcode": uk_postcode(),
            "submitted_month": truncate(4),
        },
        sensitive=["outcome"] if l > 1 else [],
        k=k,
        l=l,
        max_suppression=max_suppression,
    )
    safe = export.frame.map(inert)
    return AnonymisedExport(safe, export.k, export.l, export.levels, export.suppressed_rows)


def to_csv(export: AnonymisedExport) -> str:
    return str(export.frame.to_csv(index=False))
