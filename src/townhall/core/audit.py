"""Append-only audit log, each entry chained to the one before it by SHA-256.

An entry's hash covers its sequence number, time, actor, action, target, detail and the previous
entry's hash, so editing, deleting or reordering any row breaks the chain from that row on.
A one-row ``audit_head`` table holds the newest sequence number and hash, so removing entries from
the end is caught too. On both backends, database triggers refuse UPDATE and DELETE on entries; the
chain is what catches someone who drops the triggers first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.core.db import Base, UTCDateTime, utcnow

GENESIS = "0" * 64
SYSTEM = "system"


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    # Microsecond precision survives every backend; the ISO string pins the format.
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = _canonical([seq, stamp, actor, action, target, detail, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def log(
    session: Session, actor: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """Append an entry in the caller's transaction, so it commits or rolls back with the change.

    Personal data does not belong in ``detail``: refer to people by id or pseudonym, so that
    erasure never needs to touch the log.
    """
    detail = json.loads(_canonical(detail or {}))  # store exactly what was hashed
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    seq = head.seq + 1
    at = utcnow()
    digest = entry_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        prev_hash=head.hash,
    )
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor[:100],
        action=action[:100],
        target=target[:200],
        detail=detail,
        prev_hash=head.hash,
        hash=digest,
    )
    if entry.actor != actor or entry.action != action or entry.target != target:
        raise ValueError("audit actor, action and target must fit their columns (100/100/200)")
    session.add(entry)
    head.seq, head.hash = seq, digest
    try:
        session.flush()
    except IntegrityError as exc:  # two writers raced for the same sequence number
        raise AuditConflict("another audit entry was written at the same time; retry") from exc
    return entry


class AuditConflict(RuntimeError):
    pass


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit log intact: {self.checked} entries verified"
        return f"audit log broken at entry {self.first_bad_seq}: {self.problem}"


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last_id = None
    while True:
        query = select(AuditEntry).order_by(AuditEntry.id).limit(batch)
        if last_id is not None:
            query = query.where(AuditEntry.id > last_id)
        rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()


def verify(session: Session) -> Verification:
    """Walk the log in insertion order and check every link, then the head."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for row in _rows(session):
        if row.seq != expected_seq:
            problem = (
                f"expected entry {expected_seq} next but found entry {row.seq}"
                " (an entry was deleted or the rows were reordered)"
            )
            return Verification(False, checked, expected_seq, problem)
        if row.prev_hash != prev_hash:
            return Verification(
                False, checked, row.seq, "its link to the previous entry does not match"
            )
        recomputed = entry_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            detail=row.detail,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            return Verification(False, checked, row.seq, "its contents were changed after writing")
        prev_hash, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != checked or head_hash != prev_hash:
        return Verification(
            False,
            checked,
            checked + 1,
            f"the log ends at entry {checked} but the head records entry {head_seq}"
            " (entries were removed from the end)",
        )
    return Verification(True, checked)


def recent(session: Session, *, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))
