"""Casework tables: cases, the evidence sent with them, and each case's history.

What the rules proposed for a case is a decision record (townhall.core.decisions), linked by id;
what people did is in the audit log and, readably, in the case's events. Uploaded files are kept
on disk outside the web root (settings.casework_evidence_dir); a row holds their checked type,
size and SHA-256, never their bytes.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from townhall.core.db import Base, UTCDateTime, utcnow


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    TRIAGED = "triaged"
    IN_REVIEW = "in_review"
    MORE_INFO_REQUESTED = "more_info_requested"
    DECIDED = "decided"
    APPEALED = "appealed"


OPEN = (Status.SUBMITTED, Status.TRIAGED, Status.IN_REVIEW, Status.MORE_INFO_REQUESTED)


class Case(Base):
    __tablename__ = "casework_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # BB-000123
    form: Mapped[str] = mapped_column(String(64), index=True)
    form_version: Mapped[str] = mapped_column(String(32))
    # How it came in: web, api, csv, document, assistant, appeal or demo.
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # A draft's field errors when it was last checked, so it can be shown and corrected later.
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Answers read from a document: field -> {value, confidence, source, confirmed}.
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    recommendation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    info_requested: Mapped[str | None] = mapped_column(Text, nullable=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    triage_decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The decision record a case was made from (an assistant hand-off): one case per record.
    source_decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    appeal_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("casework_cases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Keyed pseudonym of the address, so limits per household are counted without reading
    # every case's answers and without storing the address twice.
    household_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # SHA-256 of the token that lets whoever started a draft correct and send it.
    resume_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sla_paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReferenceCounter(Base):
    """The last number issued per reference prefix (BB, CTR, ...)."""

    __tablename__ = "casework_reference_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Evidence(Base):
    __tablename__ = "casework_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("casework_cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))  # the form's evidence kind
    filename: Mapped[str] = mapped_column(String(255))  # as sent, cleaned; for display only
    media_type: Mapped[str] = mapped_column(String(100))  # from the content, not the name
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)  # random file name on disk
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEvent(Base):
    """One step in a case's history, in words the caseworker (and, if shown, the citizen) read."""

    __tablename__ = "casework_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("casework_cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    citizen_visible: Mapped[bool] = mapped_column(Boolean, default=False)
