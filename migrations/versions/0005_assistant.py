"""The citizen assistant: knowledge base, conversations, ratings and hand-offs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from townhall.core.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_conversations")),
    )
    with op.batch_alter_table("assistant_conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_conversations_last_at"), ["last_at"], unique=False
        )

    op.create_table(
        "assistant_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_team", sa.String(length=64), nullable=True),
        sa.Column("public_updated_at", UTCDateTime(), nullable=True),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_documents")),
        sa.UniqueConstraint("url", name=op.f("uq_assistant_documents_url")),
    )
    with op.batch_alter_table("assistant_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_documents_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assistant_documents_locale"), ["locale"], unique=False)
        batch_op.create_index(batch_op.f("ix_assistant_documents_source"), ["source"], unique=False)

    op.create_table(
        "assistant_index_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_index_generation")),
    )
    op.create_table(
        "assistant_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_ratings")),
    )
    with op.batch_alter_table("assistant_ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_ratings_decision_id"), ["decision_id"], unique=False
        )

    op.create_table(
        "assistant_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=1000), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("embedding_model", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["assistant_documents.id"],
            name=op.f("fk_assistant_chunks_document_id_assistant_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_chunks")),
    )
    with op.batch_alter_table("assistant_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_chunks_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "assistant_handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["assistant_conversations.id"],
            name=op.f("fk_assistant_handoffs_conversation_id_assistant_conversations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_handoffs")),
    )
    with op.batch_alter_table("assistant_handoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistant_handoffs_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assistant_handoffs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_assistant_handoffs_team"), ["team"], unique=False)

    op.create_table(
        "assistant_turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["assistant_conversations.id"],
            name=op.f("fk_assistant_turns_conversation_id_assistant_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_turns")),
    )
    with op.batch_alter_table("assistant_turns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_turns_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_assistant_turns_decision_id"), ["decision_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assistant_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_turns_decision_id"))
        batch_op.drop_index(batch_op.f("ix_assistant_turns_conversation_id"))

    op.drop_table("assistant_turns")
    with op.batch_alter_table("assistant_handoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_handoffs_team"))
        batch_op.drop_index(batch_op.f("ix_assistant_handoffs_status"))
        batch_op.drop_index(batch_op.f("ix_assistant_handoffs_at"))

    op.drop_table("assistant_handoffs")
    with op.batch_alter_table("assistant_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_chunks_document_id"))

    op.drop_table("assistant_chunks")
    with op.batch_alter_table("assistant_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_ratings_decision_id"))

    op.drop_table("assistant_ratings")
    op.drop_table("assistant_index_generation")
    with op.batch_alter_table("assistant_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_documents_source"))
        batch_op.drop_index(batch_op.f("ix_assistant_documents_locale"))
        batch_op.drop_index(batch_op.f("ix_assistant_documents_content_hash"))

    op.drop_table("assistant_documents")
    with op.batch_alter_table("assistant_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_conversations_last_at"))

    op.drop_table("assistant_conversations")
