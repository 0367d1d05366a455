"""Protected characteristics of subjects, each with its lawful basis, for fairness audits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.core.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_characteristics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=128), nullable=False),
        sa.Column("characteristic", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("lawful_basis", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_characteristics")),
        sa.UniqueConstraint(
            "subject_ref", "characteristic", name=op.f("uq_subject_characteristics_subject_ref")
        ),
    )
    with op.batch_alter_table("subject_characteristics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_characteristics_subject_ref"), ["subject_ref"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_characteristics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_characteristics_subject_ref"))

    op.drop_table("subject_characteristics")
