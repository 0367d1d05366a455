"""Human review of decision records: accept, or override with a reason. Both are audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from townhall.core import audit
from townhall.core.auth import User
from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord, Status
from townhall.core.errors import Conflict, InvalidInput, NotFound
from townhall.core.permissions import DECISIONS_REVIEW, USERS_MANAGE

MAX_REASON = 2000

# Run when a person overrides a decision of a given type, before anything changes: a service may
# refuse the new output (raise InvalidInput naming the field) or act on it in the same transaction
# (a re-routed message is queued for its new team). Services register them; the core knows none.
OverrideHook = Callable[[Session, User, DecisionRecord, dict[str, Any]], None]
_override_hooks: dict[str, OverrideHook] = {}


def register_override_hook(decision_type: str, hook: OverrideHook) -> None:
    _override_hooks[decision_type] = hook


def _visible_to(user: User, query: Select[Any]) -> Select[Any]:
    """Staff see decisions for their own teams and those with no team; admins see all."""
    if user.can(USERS_MANAGE) or user.role == "auditor":
        return query
    teams = user.team_ids
    return query.where(
        (DecisionRecord.team_id.is_(None)) | (DecisionRecord.team_id.in_(teams or {-1}))
    )


@dataclass(frozen=True)
class Page:
    items: list[DecisionRecord]
    total: int
    limit: int
    offset: int


def queue(
    session: Session,
    user: User,
    *,
    status: Status | None = Status.PROPOSED,
    service: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    query = _visible_to(user, select(DecisionRecord))
    if status is not None:
        query = query.where(DecisionRecord.status == status.value)
    if service:
        query = query.where(DecisionRecord.service == service)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    items = session.scalars(
        query.order_by(DecisionRecord.created_at, DecisionRecord.id).limit(limit).offset(offset)
    )
    return Page(list(items), total, limit, offset)


def get(session: Session, user: User, decision_id: str) -> DecisionRecord:
    query = _visible_to(user, select(DecisionRecord).where(DecisionRecord.id == decision_id))
    decision = session.scalar(query)
    if decision is None:
        raise NotFound("No such decision, or it belongs to another team.")
    return decision


def _open_for_review(session: Session, user: User, decision_id: str) -> DecisionRecord:
    if not user.can(DECISIONS_REVIEW):
        raise NotFound("No such decision, or it belongs to another team.")
    decision = get(session, user, decision_id)
    if decision.status != Status.PROPOSED.value:
        raise Conflict(f"This decision was already {decision.status}.")
    return decision


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(
            f"Reason must be {MAX_REASON} characters or fewer.",
            details=[{"field": "reason", "message": "Reason is too long"}],
        )
    return text


def accept(
    session: Session, user: User, decision_id: str, *, reason: str | None = None
) -> DecisionRecord:
    decision = _open_for_review(session, user, decision_id)
    decision.status = Status.ACCEPTED.value
    decision.final_output = decision.output
    decision.reviewer_id = user.id
    decision.review_reason = _clean_reason(reason) or None
    decision.reviewed_at = utcnow()
    session.flush()
    audit.log(
        session,
        f"user:{user.id}",
        "decision.accepted",
        f"decision:{decision.id}",
        {"reason_given": bool(decision.review_reason)},
    )
    return decision


def override(
    session: Session,
    user: User,
    decision_id: str,
    *,
    final_output: dict[str, Any],
    reason: str,
) -> DecisionRecord:
    text = _clean_reason(reason)
    if not text:
        raise InvalidInput(
            "Enter the reason for overriding this decision.",
            details=[
                {"field": "reason", "message": "Enter the reason for overriding this decision"}
            ],
        )
    decision = _open_for_review(session, user, decision_id)
    hook = _override_hooks.get(decision.decision_type)
    if hook is not None:
        hook(session, user, decision, final_output)
    decision.status = Status.OVERRIDDEN.value
    decision.final_output = final_output
    decision.reviewer_id = user.id
    decision.review_reason = text
    decision.reviewed_at = utcnow()
    session.flush()
    audit.log(
        session,
        f"user:{user.id}",
        "decision.overridden",
        f"decision:{decision.id}",
        {"final_output": final_output},
    )
    return decision


def override_outcome(
    session: Session, user: User, decision_id: str, *, outcome: str, reason: str
) -> DecisionRecord:
    """Override with a new headline outcome, keeping the rest of the proposed output."""
    outcome = outcome.strip()
    if not outcome:
        raise InvalidInput(
            "Enter the outcome you are choosing instead.",
            details=[{"field": "outcome", "message": "Enter the outcome you are choosing instead"}],
        )
    decision = get(session, user, decision_id)
    final = {key: value for key, value in decision.output.items() if key != "options"}
    final["outcome"] = outcome
    return override(session, user, decision_id, final_output=final, reason=reason)
