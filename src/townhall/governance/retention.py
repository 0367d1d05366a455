"""Retention and data rights: purge what is past its retention period, export and erase a subject.

Rules are days per record type, in settings (``retention_days``). Purges and erasures are audited
with counts only, and audit entries refer to records by random id, so removing records never
touches the audit chain: ``townhall audit verify`` still passes afterwards (tested).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from townhall.core import audit
from townhall.core.auth import LoginFailure
from townhall.core.db import get_engine, transaction, utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.jobs import Job, Progress
from townhall.core.registry import ShadowOutput
from townhall.governance.characteristics import SubjectCharacteristic
from townhall.settings import Settings

# record type -> (table, its timestamp column)
RECORD_TYPES: dict[str, tuple[Any, Any]] = {
    "decision_records": (DecisionRecord, DecisionRecord.created_at),
    "login_failures": (LoginFailure, LoginFailure.at),
    "shadow_outputs": (ShadowOutput, ShadowOutput.at),
}


def register_record_type(name: str, table: Any, stamp: Any) -> None:
    """A service's record type the retention rules can name; `stamp` is the age column."""
    existing = RECORD_TYPES.get(name)
    if existing is not None and existing[0] is not table:
        raise ValueError(f"record type {name!r} is already registered for another table")
    RECORD_TYPES[name] = (table, stamp)


@dataclass(frozen=True)
class PurgeResult:
    cutoffs: dict[str, dt.datetime]
    removed: dict[str, int]


def check_rules(rules: dict[str, int]) -> None:
    unknown = sorted(set(rules) - set(RECORD_TYPES))
    if unknown:
        raise InvalidInput(
            f"No retention rule can apply to {', '.join(unknown)}; "
            f"record types are {', '.join(sorted(RECORD_TYPES))}."
        )
    bad = sorted(name for name, days in rules.items() if days < 1)
    if bad:
        raise InvalidInput(f"Retention must be at least one day: {', '.join(bad)}.")


def purge(
    session: Session,
    rules: dict[str, int],
    *,
    now: dt.datetime | None = None,
    actor: str = "job:retention",
    dry_run: bool = False,
) -> PurgeResult:
    """Remove records older than their rule; record types without a rule are kept."""
    check_rules(rules)
    now = now or utcnow()
    cutoffs = {name: now - dt.timedelta(days=days) for name, days in rules.items()}
    removed: dict[str, int] = {}
    for name, cutoff in cutoffs.items():
        table, stamp = RECORD_TYPES[name]
        if dry_run:
            removed[name] = int(
                session.scalar(select(func.count()).select_from(table).where(stamp < cutoff)) or 0
            )
        else:
            removed[name] = int(
                session.execute(  # type: ignore[attr-defined]
                    delete(table).where(stamp < cutoff)
                ).rowcount
                or 0
            )
    if not dry_run:
        audit.log(
            session,
            actor,
            "retention.purged",
            "retention",
            {"removed": removed, "rules_days": rules},
        )
    return PurgeResult(cutoffs, removed)


def _decision_view(d: DecisionRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "service": d.service,
        "decision_type": d.decision_type,
        "model": f"{d.model_name} {d.model_version}",
        "recorded_at": d.created_at.isoformat(),
        "suggested": d.output,
        "confidence": d.confidence,
        "explanation": d.explanation,
        "status": d.status,
        "final": d.final_output,
        "review_reason": d.review_reason,
        "reviewed_at": d.reviewed_at.isoformat() if d.reviewed_at else None,
    }


def subject_access(session: Session, subject_ref: str, *, actor: str) -> dict[str, Any]:
    """Everything held about a pseudonymised subject, for a subject access request."""
    if not subject_ref.strip():
        raise InvalidInput("Give the subject's pseudonymised reference.")
    found = list(
        session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.subject_ref == subject_ref)
            .order_by(DecisionRecord.created_at)
        )
    )
    held = list(
        session.scalars(
            select(SubjectCharacteristic)
            .where(SubjectCharacteristic.subject_ref == subject_ref)
            .order_by(SubjectCharacteristic.characteristic)
        )
    )
    audit.log(
        session,
        actor,
        "data_rights.subject_access",
        "subject",
        {"records": len(found) + len(held)},
    )
    return {
        "subject_ref": subject_ref,
        "generated_at": utcnow().isoformat(),
        "decisions": [_decision_view(d) for d in found],
        "protected_characteristics": [
            {
                "characteristic": c.characteristic,
                "value": c.value,
                "lawful_basis": c.lawful_basis,
                "source": c.source,
                "recorded_at": c.recorded_at.isoformat(),
            }
            for c in held
        ],
    }


def erase(session: Session, subject_ref: str, *, actor: str, reason: str) -> int:
    """Erase a subject's records. The audit log keeps only the count and the reason."""
    if not reason.strip():
        raise InvalidInput("Give the reason for erasure (for example, the request reference).")
    count = 0
    for table in (DecisionRecord, SubjectCharacteristic):
        result = session.execute(delete(table).where(table.subject_ref == subject_ref))
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count == 0:
        raise NotFound("Nothing is held under that reference.")
    audit.log(
        session,
        actor,
        "data_rights.erased",
        "subject",
        {"records": count, "reason": reason.strip()[:500]},
    )
    return count


def _purge_job(settings: Settings, progress: Progress) -> dict[str, Any]:
    with transaction(get_engine(settings.database_url, settings.database_echo)) as session:
        result = purge(session, settings.retention_days, actor="job:retention")
    progress(1, 1, "purged")
    return {"removed": result.removed}


PURGE_JOB = Job(
    name="retention.purge",
    run=_purge_job,
    description="Remove records past their retention period.",
    schedule=lambda settings: settings.retention_purge_schedule,
)
