"""Cases as people read them: the citizen's status page, the caseworker's case and queue, and
the dashboard of volumes, ages and service level breaches per team and form. Plain data out, so
the API, the CLI and the pages show the same thing.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any, NoReturn

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townhall.core.auth import Team, User
from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import NotFound
from townhall.services.casework import flow
from townhall.services.casework.actions import age_days, sees_every_team, visible_case
from townhall.services.casework.catalogue import Catalogue
from townhall.services.casework.intake import find_case
from townhall.services.casework.models import OPEN, Case, CaseEvent, Evidence, Status
from townhall.services.casework.rules import PRIORITIES
from townhall.services.casework.sla import clock
from townhall.services.casework.validation import from_json

CITIZEN_STATUS = {
    Status.SUBMITTED.value: "Received",
    Status.TRIAGED.value: "Received",
    Status.IN_REVIEW.value: "Being checked",
    Status.MORE_INFO_REQUESTED.value: "We need more information from you",
    Status.DECIDED.value: "Decision made",
    Status.APPEALED.value: "Review requested",
}


def _date(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _stamp(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _clock(case: Case, now: dt.datetime) -> dict[str, Any]:
    closed = case.status not in {status.value for status in OPEN}
    return clock(case.sla_due_at, case.sla_paused_at, closed, now).as_dict()


def _evidence_outstanding(catalogue: Catalogue, session: Session, case: Case) -> list[str]:
    form = catalogue.form(case.form)
    sent = set(session.scalars(select(Evidence.kind).where(Evidence.case_id == case.id)))
    needed = flow.evidence_needed(form, from_json(form, case.answers))
    return [item.label for item in needed if item.kind not in sent]


def citizen_status(
    session: Session, catalogue: Catalogue, reference: str, *, verified: bool = False
) -> dict[str, Any]:
    """What a citizen may see of their case. Without proof that it is theirs (`verified`: their
    postcode or email address matched), only its progress; with it, also the reasons and what
    is asked of them."""
    case = find_case(session, reference)
    if case.status == Status.DRAFT.value:
        raise_not_found(reference)
    form = catalogue.form(case.form)
    view: dict[str, Any] = {
        "reference": case.reference,
        "form": form.title,
        "status": CITIZEN_STATUS.get(case.status, "Received"),
        "submitted_on": _date(case.submitted_at),
        "reply_by": None,
        "outcome": None,
        "decided_on": _date(case.decided_at),
        "review_rights": None,
        "verified": verified,
    }
    if case.status in {status.value for status in OPEN} and case.sla_due_at:
        view["reply_by"] = _date(case.sla_due_at) if not case.sla_paused_at else None
    if case.outcome:
        view["outcome"] = getattr(form.outcomes, case.outcome)
        if case.outcome == "refuse":
            # A refusal always says how to ask for a review, verified or not.
            view["review_rights"] = form.review_rights
    if verified:
        review = session.scalar(select(Case.reference).where(Case.appeal_of_id == case.id))
        view.update(
            {
                "decision_reason": case.decision_reason,
                "information_requested": case.info_requested
                if case.status == Status.MORE_INFO_REQUESTED.value
                else None,
                "evidence_outstanding": _evidence_outstanding(catalogue, session, case),
                "review_case": review,
                "history": [
                    {"at": _stamp(e.at), "what": e.action.replace("_", " ")}
                    for e in session.scalars(
                        select(CaseEvent)
                        .where(CaseEvent.case_id == case.id, CaseEvent.citizen_visible.is_(True))
                        .order_by(CaseEvent.id)
                    )
                ],
            }
        )
    return view


def raise_not_found(reference: str) -> NoReturn:
    raise NotFound(f"There is no case {reference.strip()[:30]}.", field="reference")


def _names(session: Session, ids: set[int], model: Any, column: Any) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, column).where(model.id.in_(ids))).all())


def case_row(
    case: Case, teams: dict[int, str], users: dict[int, str], now: dt.datetime
) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "form": case.form,
        "channel": case.channel,
        "status": case.status,
        "priority": case.priority,
        "recommendation": case.recommendation,
        "outcome": case.outcome,
        "team": teams.get(case.team_id) if case.team_id else None,
        "assignee": users.get(case.assignee_id) if case.assignee_id else None,
        "submitted_at": _stamp(case.submitted_at),
        "age_days": round(age_days(case, now), 1),
        "sla": _clock(case, now),
    }


def case_detail(
    session: Session, catalogue: Catalogue, user: User | None, reference: str
) -> dict[str, Any]:
    """Everything a caseworker needs on one case."""
    case = visible_case(session, user, reference)
    form = catalogue.form(case.form)
    now = utcnow()
    teams = _names(session, {case.team_id} - {None}, Team, Team.slug)  # type: ignore[arg-type]
    users = _names(
        session,
        {case.assignee_id, case.decided_by_id} - {None},  # type: ignore[arg-type]
        User,
        User.username,
    )
    typed = from_json(form, case.answers)
    proposal = (
        session.get(DecisionRecord, case.triage_decision_id) if case.triage_decision_id else None
    )
    linked = session.scalars(select(Case.reference).where(Case.appeal_of_id == case.id)).all()
    original = session.get(Case, case.appeal_of_id) if case.appeal_of_id else None
    detail = case_row(case, teams, users, now)
    detail.update(
        {
            "form_title": form.title,
            "form_version": case.form_version,
            "answers": case.answers,
            "summary": [row.__dict__ for row in flow.summary(form, typed)]
            if case.status != Status.DRAFT.value
            else [],
            "errors": case.errors,
            "extraction": case.extraction,
            "decision_reason": case.decision_reason,
            "decided_by": users.get(case.decided_by_id) if case.decided_by_id else None,
            "decided_at": _stamp(case.decided_at),
            "information_requested": case.info_requested,
            "evidence": [
                {
                    "id": item.id,
                    "kind": item.kind,
                    "filename": item.filename,
                    "media_type": item.media_type,
                    "size": item.size,
                    "sha256": item.sha256,
                    "uploaded_at": _stamp(item.uploaded_at),
                }
                for item in session.scalars(
                    select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)
                )
            ],
            "evidence_outstanding": _evidence_outstanding(catalogue, session, case),
            "proposal": None
            if proposal is None
            else {
                "decision_id": proposal.id,
                "status": proposal.status,
                "outcome": proposal.output.get("outcome"),
                "priority": proposal.output.get("priority"),
                "reasons": proposal.explanation.get("reasons", []),
                "policy": proposal.explanation.get("policy"),
                "rules_from": proposal.explanation.get("rules_from"),
                "derived": proposal.explanation.get("derived", {}),
            },
            "review_of": original.reference if original else None,
            "reviews": list(linked),
            "events": [
                {
                    "at": _stamp(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "detail": e.detail,
                    "citizen_visible": e.citizen_visible,
                }
                for e in session.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
                )
            ],
        }
    )
    return detail


def queue(
    session: Session,
    user: User | None,
    *,
    team: str | None = None,
    status: str | None = None,
    form: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Open cases (or those in `status`), most urgent first: priority, then service level due."""
    query = select(Case)
    if status:
        query = query.where(Case.status == status)
    else:
        query = query.where(Case.status.in_([s.value for s in OPEN]))
    if form:
        query = query.where(Case.form == form)
    if team:
        row = session.scalar(select(Team).where(Team.slug == team))
        if row is None:
            raise NotFound(f"There is no team {team!r}.", field="team")
        query = query.where(Case.team_id == row.id)
    if user is not None and not sees_every_team(user):
        query = query.where((Case.team_id.is_(None)) | (Case.team_id.in_(user.team_ids or {-1})))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rank = sql_case(
        {name: position for position, name in enumerate(PRIORITIES)},
        value=Case.priority,
        else_=len(PRIORITIES),
    )
    page = list(
        session.scalars(
            query.order_by(rank, Case.sla_due_at.is_(None), Case.sla_due_at, Case.id)
            .limit(limit)
            .offset(offset)
        )
    )
    now = utcnow()
    teams = _names(session, {c.team_id for c in page if c.team_id}, Team, Team.slug)
    users = _names(session, {c.assignee_id for c in page if c.assignee_id}, User, User.username)
    return {
        "items": [case_row(case, teams, users, now) for case in page],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def dashboard(
    session: Session, user: User | None, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Volumes, ages and service level breaches per team and form."""
    now = now or utcnow()
    query = select(
        Case.team_id,
        Case.form,
        Case.status,
        Case.submitted_at,
        Case.created_at,
        Case.sla_due_at,
        Case.sla_paused_at,
        Case.decided_at,
    ).where(Case.status != Status.DRAFT.value)
    if user is not None and not sees_every_team(user):
        query = query.where((Case.team_id.is_(None)) | (Case.team_id.in_(user.team_ids or {-1})))
    groups: dict[tuple[int | None, str], dict[str, Any]] = defaultdict(
        lambda: {
            "open": 0,
            "by_status": defaultdict(int),
            "ages": [],
            "breached": 0,
            "due_soon": 0,
            "decided_last_30_days": 0,
        }
    )
    open_states = {status.value for status in OPEN}
    month_ago = now - dt.timedelta(days=30)
    for team_id, form, status, submitted, created, due, paused, decided in session.execute(query):
        group = groups[(team_id, form)]
        group["by_status"][status] += 1
        if status in open_states:
            group["open"] += 1
            group["ages"].append((now - (submitted or created)).total_seconds() / 86400)
            state = clock(due, paused, False, now)
            if state.breached:
                group["breached"] += 1
            elif (
                state.working_days_left is not None
                and state.working_days_left <= 2
                and not state.paused
            ):
                group["due_soon"] += 1
        if decided is not None and decided >= month_ago:
            group["decided_last_30_days"] += 1
    teams = _names(session, {t for t, _ in groups if t}, Team, Team.slug)
    rows = []
    for (team_id, form), group in sorted(
        groups.items(), key=lambda item: (teams.get(item[0][0] or 0, ""), item[0][1])
    ):
        ages = group.pop("ages")
        rows.append(
            {
                "team": teams.get(team_id) if team_id else None,
                "form": form,
                **group,
                "by_status": dict(group["by_status"]),
                "median_age_days": round(statistics.median(ages), 1) if ages else None,
                "oldest_age_days": round(max(ages), 1) if ages else None,
            }
        )
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("open", "breached", "due_soon", "decided_last_30_days")
    }
    drafts = session.scalar(select(func.count()).where(Case.status == Status.DRAFT.value)) or 0
    return {
        "generated_at": now.isoformat(),
        "rows": rows,
        "totals": {**totals, "drafts": int(drafts)},
    }
