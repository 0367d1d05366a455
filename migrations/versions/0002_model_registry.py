"""Model registry: registered model versions and shadow outputs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.core.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("training_data_digest", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("fairness", sa.JSON(), nullable=True),
        sa.Column("model_card", sa.JSON(), nullable=True),
        sa.Column("artifact_uri", sa.String(length=500), nullable=True),
        sa.Column("registered_by", sa.Integer(), nullable=True),
        sa.Column("registered_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("promotion_requested_by", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("live_since", UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_registered_models_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_requested_by"],
            ["users.id"],
            name=op.f("fk_registered_models_promotion_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["users.id"],
            name=op.f("fk_registered_models_registered_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_models")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_registered_models_name")),
    )
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registered_models_name"), ["name"], unique=False)

    op.create_index(
        "uq_registered_models_one_live",
        "registered_models",
        ["name"],
        unique=True,
        sqlite_where=sa.text("status = 'live'"),
        postgresql_where=sa.text("status = 'live'"),
    )
    op.create_table(
        "shadow_outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("live_model_id", sa.Integer(), nullable=True),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("live_output", sa.JSON(), nullable=True),
        sa.Column("shadow_output", sa.JSON(), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["live_model_id"],
            ["registered_models.id"],
            name=op.f("fk_shadow_outputs_live_model_id_registered_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_shadow_outputs_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_outputs")),
    )
    with op.batch_alter_table("shadow_outputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shadow_outputs_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    op.drop_index("uq_registered_models_one_live", table_name="registered_models")
    with op.batch_alter_table("shadow_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_outputs_model_id"))

    op.drop_table("shadow_outputs")
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registered_models_name"))

    op.drop_table("registered_models")
