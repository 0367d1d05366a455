"""The assistant's tables: the knowledge base, conversations, ratings and hand-offs.

Answers themselves are decision records (townhall.core.decisions); these tables hold what a
decision record should not: the guidance text, and the conversation a citizen can continue.
Chunk embeddings live beside their text so the search index rebuilds from the database alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from townhall.core.db import Base, UTCDateTime, utcnow


class Document(Base):
    """One page of guidance, from a file, a JSON-lines export or a crawl."""

    __tablename__ = "assistant_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(16), index=True)
    # What was named on the command line (folder, file, JSON-lines file or site): a re-ingest of
    # the same source removes its pages that are gone.
    source: Mapped[str] = mapped_column(String(2000), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The team that owns the page's topic (front matter `team:`): hand-offs about it go there.
    owner_team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    public_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Chunk(Base):
    """A section of a page under its headings: the unit retrieved and cited."""

    __tablename__ = "assistant_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("assistant_documents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(1000), default="")  # "Apply > Who can apply"
    text: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 x 384, little-endian
    embedding_model: Mapped[str] = mapped_column(String(80))


class IndexGeneration(Base):
    """One row, bumped by every ingest that changes anything: processes rebuild when it moves."""

    __tablename__ = "assistant_index_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "assistant_conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Turn(Base):
    """A question (redacted before it is stored) and the reply, in a conversation."""

    __tablename__ = "assistant_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("assistant_conversations.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """A citizen's rating of one answer (the decision record it came from)."""

    __tablename__ = "assistant_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")  # redacted
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Handoff(Base):
    """A question passed to a person: the team that owns its topic picks it up."""

    __tablename__ = "assistant_handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("assistant_conversations.id", ondelete="SET NULL"), nullable=True
    )
    team: Mapped[str] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)  # redacted
    reason: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(Text, default="")  # how to reply, if the citizen gave it
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
