"""JSON shapes of the core API (Dispatch-style names: XRead for output, XAction for input)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StrictInput(BaseModel):
    """Every request body refuses unknown fields, so a typo is an error and not silently lost."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorInfo(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail | dict[str, Any] | str] = []


class ErrorRead(BaseModel):
    error: ErrorInfo


class HealthRead(BaseModel):
    status: str
    checks: dict[str, str] = {}


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    permissions: list[str]
    teams: list[str]


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    service: str
    decision_type: str
    subject_ref: str
    model_name: str
    model_version: str
    input_digest: str
    output: dict[str, Any]
    confidence: float | None
    explanation: dict[str, Any]
    summary: str
    team_id: int | None
    status: str
    final_output: dict[str, Any] | None
    reviewer_id: int | None
    review_reason: str | None
    created_at: dt.datetime
    reviewed_at: dt.datetime | None


class DecisionPage(BaseModel):
    items: list[DecisionRead]
    total: int
    limit: int
    offset: int


class DecisionAccept(StrictInput):
    reason: str | None = Field(default=None, max_length=2000)


class DecisionOverride(StrictInput):
    outcome: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class AuditVerifyRead(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str
