"""DecisionRecord: the one seam every AI or rule output that could affect a person passes through.

The proposed output and the human's final output are kept apart: ``output`` is what the model or
rule proposed and never changes; ``final_output`` is set by review (equal to ``output`` when
accepted, the reviewer's choice when overridden).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.core import audit
from townhall.core.db import Base, UTCDateTime, utcnow
from townhall.core.errors import InvalidInput


class Status(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    OVERRIDDEN = "overridden"


class DecisionRecord(Base):
    __tablename__ = "decision_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), index=True)
    decision_type: Mapped[str] = mapped_column(String(100), index=True)
    subject_ref: Mapped[str] = mapped_column(String(128), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(50))
    input_digest: Mapped[str] = mapped_column(String(64))
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(300), default="")
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=Status.PROPOSED.value, index=True)
    final_output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    review_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


def digest_inputs(inputs: Any) -> str:
    """SHA-256 of the inputs in canonical JSON: proves what was decided on without storing it."""
    body = json.dumps(
        inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    service: str,
    decision_type: str,
    subject_ref: str,
    model_name: str,
    model_version: str,
    inputs: Any,
    output: dict[str, Any],
    confidence: float | None = None,
    explanation: dict[str, Any] | None = None,
    summary: str = "",
    team_id: int | None = None,
    actor: str = audit.SYSTEM,
) -> DecisionRecord:
    """Write a proposed decision and its audit entry in the caller's transaction.

    ``subject_ref`` must already be pseudonymised; ``inputs`` are only digested, never stored.
    """
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise InvalidInput("confidence must be between 0 and 1")
    for name, value in (
        ("service", service),
        ("decision_type", decision_type),
        ("model_name", model_name),
        ("model_version", model_version),
    ):
        if not value or not value.strip():
            raise InvalidInput(f"{name} must not be empty")
    decision = DecisionRecord(
        id=str(uuid.uuid4()),
        service=service,
        decision_type=decision_type,
        subject_ref=subject_ref,
        model_name=model_name,
        model_version=model_version,
        input_digest=digest_inputs(inputs),
        output=output,
        confidence=confidence,
        explanation=explanation or {},
        summary=summary[:300],
        team_id=team_id,
        status=Status.PROPOSED.value,
    )
    session.add(decision)
    session.flush()
    audit.log(
        session,
        actor,
        "decision.recorded",
        f"decision:{decision.id}",
        {
            "service": service,
            "decision_type": decision_type,
            "model": model_name,
            "model_version": model_version,
            "input_digest": decision.input_digest,
        },
    )
    return decision


def counts_by_status(session: Session) -> dict[str, int]:
    query = select(DecisionRecord.status, func.count()).group_by(DecisionRecord.status)
    return {status: int(n) for status, n in session.execute(query)}
