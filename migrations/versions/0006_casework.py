"""Casework: cases, their evidence and history, and reference counters per form.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.core.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "casework_reference_counters",
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_casework_reference_counters")),
    )
    op.create_table(
        "casework_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("extraction", sa.JSON(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("recommendation", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("info_requested", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("triage_decision_id", sa.String(length=36), nullable=True),
        sa.Column("source_decision_id", sa.String(length=36), nullable=True),
        sa.Column("appeal_of_id", sa.Integer(), nullable=True),
        sa.Column("household_key", sa.String(length=64), nullable=True),
        sa.Column("resume_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("sla_due_at", UTCDateTime(), nullable=True),
        sa.Column("sla_paused_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appeal_of_id"],
            ["casework_cases.id"],
            name=op.f("fk_casework_cases_appeal_of_id_casework_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_casework_cases_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_casework_cases_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_casework_cases_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casework_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_casework_cases_reference")),
        sa.UniqueConstraint(
            "source_decision_id", name=op.f("uq_casework_cases_source_decision_id")
        ),
    )
    with op.batch_alter_table("casework_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_casework_cases_appeal_of_id"), ["appeal_of_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_casework_cases_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_casework_cases_form"), ["form"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_casework_cases_household_key"), ["household_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_casework_cases_priority"), ["priority"], unique=False)
        batch_op.create_index(batch_op.f("ix_casework_cases_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_casework_cases_team_id"), ["team_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_casework_cases_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "casework_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("citizen_visible", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["casework_cases.id"],
            name=op.f("fk_casework_events_case_id_casework_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casework_events")),
    )
    with op.batch_alter_table("casework_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_casework_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "casework_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_name", sa.String(length=80), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["casework_cases.id"],
            name=op.f("fk_casework_evidence_case_id_casework_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casework_evidence")),
        sa.UniqueConstraint("storage_name", name=op.f("uq_casework_evidence_storage_name")),
    )
    with op.batch_alter_table("casework_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_casework_evidence_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("casework_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_casework_evidence_case_id"))

    op.drop_table("casework_evidence")
    with op.batch_alter_table("casework_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_casework_events_case_id"))

    op.drop_table("casework_events")
    with op.batch_alter_table("casework_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_casework_cases_updated_at"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_team_id"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_status"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_priority"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_household_key"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_form"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_casework_cases_appeal_of_id"))

    op.drop_table("casework_cases")
    op.drop_table("casework_reference_counters")
