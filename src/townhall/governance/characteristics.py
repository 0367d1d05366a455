"""Protected characteristics recorded about subjects, each with its lawful basis.

Fairness audits need them; nothing else may use them. They are kept apart from the decisions, keyed
by the same pseudonymised subject reference, so models never see them and audits can join them.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.core import audit
from townhall.core.db import Base, UTCDateTime, utcnow
from townhall.core.errors import InvalidInput
from townhall.governance.fairness import PROTECTED_CHARACTERISTICS

NOT_RECORDED = "not recorded"


class SubjectCharacteristic(Base):
    __tablename__ = "subject_characteristics"
    __table_args__ = (UniqueConstraint("subject_ref", "characteristic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(128), index=True)
    characteristic: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(100))
    lawful_basis: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def record_characteristic(
    session: Session,
    *,
    subject_ref: str,
    characteristic: str,
    value: str,
    lawful_basis: str,
    source: str,
    actor: str,
) -> SubjectCharacteristic:
    """Record (or correct) one characteristic of one subject."""
    if characteristic not in PROTECTED_CHARACTERISTICS:
        raise InvalidInput(
            f"{characteristic!r} is not a protected characteristic; use one of "
            f"{', '.join(PROTECTED_CHARACTERISTICS)}."
        )
    if not lawful_basis.strip():
        raise InvalidInput(
            "A protected characteristic needs the lawful basis for holding it "
            "(for example, UK GDPR Art. 9(2)(g) with DPA 2018 Sch. 1 para 8)."
        )
    if not value.strip() or not subject_ref.strip():
        raise InvalidInput("Give the subject reference and the value.")
    row = session.scalar(
        select(SubjectCharacteristic).where(
            SubjectCharacteristic.subject_ref == subject_ref,
            SubjectCharacteristic.characteristic == characteristic,
        )
    )
    if row is None:
        row = SubjectCharacteristic(subject_ref=subject_ref, characteristic=characteristic)
        session.add(row)
    row.value, row.lawful_basis, row.source = value.strip(), lawful_basis.strip(), source
    row.recorded_at = utcnow()
    session.flush()
    # The value is special category data: the audit log names only what was recorded.
    audit.log(
        session,
        actor,
        "characteristic.recorded",
        "subject",
        {"characteristic": characteristic, "source": source},
    )
    return row


def check_characteristics(by: list[str]) -> None:
    unknown = [c for c in by if c not in PROTECTED_CHARACTERISTICS]
    if unknown:
        raise InvalidInput(f"Not protected characteristics: {', '.join(unknown)}.")
    if not by:
        raise InvalidInput("Choose at least one protected characteristic.")


def characteristics_frame(session: Session, subject_refs: list[str], by: list[str]) -> pd.DataFrame:
    """One row per subject, one column per characteristic; gaps are 'not recorded', not dropped."""
    check_characteristics(by)
    rows = session.execute(
        select(
            SubjectCharacteristic.subject_ref,
            SubjectCharacteristic.characteristic,
            SubjectCharacteristic.value,
        ).where(
            SubjectCharacteristic.subject_ref.in_(subject_refs),
            SubjectCharacteristic.characteristic.in_(by),
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["subject_ref", "characteristic", "value"])
    wide = (
        frame.pivot(index="subject_ref", columns="characteristic", values="value")
        if not frame.empty
        else pd.DataFrame(columns=by)
    )
    return wide.reindex(index=subject_refs, columns=by).fillna(NOT_RECORDED)
