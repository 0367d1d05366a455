"""Model registry: versions, evidence, lifecycle (candidate -> shadow -> live -> retired).

Promotion to live needs a passed fairness audit, a model card and a second person's approval
(four eyes); every change is audited. ``withdraw`` is the stop switch: the model stops being live
at once and services fall back to people. Shadow outputs are stored beside the live model's so
agreement can be reported before anyone relies on a candidate.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.core import audit
from townhall.core.auth import User
from townhall.core.db import Base, UTCDateTime, utcnow
from townhall.core.errors import Conflict, Forbidden, InvalidInput, NotFound

REQUIRED_CARD_FIELDS = ("purpose", "owner", "training_data", "limitations")
# An artifact is recorded as a file URI carrying the SHA-256 of its bytes, as pip's package
# links do: file:///srv/models/triage-1.0.joblib#sha256=<64 hex digits>.
DIGEST_FRAGMENT = "sha256="


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    SHADOW = "shadow"
    LIVE = "live"
    RETIRED = "retired"


class RegisteredModel(Base):
    __tablename__ = "registered_models"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        # The database itself allows at most one live version of each model.
        Index(
            "uq_registered_models_one_live",
            "name",
            unique=True,
            sqlite_where=text("status = 'live'"),
            postgresql_where=text("status = 'live'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.CANDIDATE.value)
    training_data_digest: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    fairness: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    model_card: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    artifact_uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    promotion_requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    approved_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    live_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ShadowOutput(Base):
    __tablename__ = "shadow_outputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    live_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("registered_models.id", ondelete="SET NULL"), nullable=True
    )
    input_digest: Mapped[str] = mapped_column(String(64))
    live_output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shadow_output: Mapped[dict[str, Any]] = mapped_column(JSON)
    agrees: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def _is_sha256(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def _actor(user: User | None) -> str:
    return f"user:{user.id}" if user is not None else audit.SYSTEM


def _log(
    session: Session,
    user: User | None,
    action: str,
    model: RegisteredModel,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.log(session, _actor(user), action, f"model:{model.name}:{model.version}", detail or {})


def register(
    session: Session,
    *,
    name: str,
    version: str,
    training_data_digest: str,
    metrics: dict[str, Any],
    by: User | None = None,
    model_card: dict[str, Any] | None = None,
    fairness: dict[str, Any] | None = None,
    artifact_uri: str | None = None,
) -> RegisteredModel:
    """Register a trained model as a candidate."""
    if not name.strip() or not version.strip():
        raise InvalidInput("A model needs a name and a version.")
    if not _is_sha256(training_data_digest):
        raise InvalidInput("training_data_digest must be a SHA-256 hex digest.")
    exists = session.scalar(
        select(RegisteredModel.id).where(
            RegisteredModel.name == name, RegisteredModel.version == version
        )
    )
    if exists is not None:
        raise Conflict(f"{name} version {version} is already registered.")
    model = RegisteredModel(
        name=name,
        version=version,
        status=ModelStatus.CANDIDATE.value,
        training_data_digest=training_data_digest,
        metrics=metrics,
        fairness=fairness,
        model_card=model_card,
        artifact_uri=artifact_uri,
        registered_by=by.id if by is not None else None,
    )
    session.add(model)
    session.flush()
    _log(session, by, "model.registered", model, {"metrics": metrics})
    return model


def file_artifact_uri(path: Path, digest: str) -> str:
    """The URI recorded for an artifact file: where it is and the SHA-256 of its bytes."""
    if not _is_sha256(digest):
        raise InvalidInput("An artifact digest must be a SHA-256 hex digest.")
    uri = f"{path.resolve().as_uri()}#{DIGEST_FRAGMENT}{digest}"
    if len(uri) > 500:
        raise InvalidInput("The artifact's path is too long to record (500 characters at most).")
    return uri


def artifact_location(model: RegisteredModel) -> tuple[Path, str]:
    """The artifact file recorded for a model and the SHA-256 its bytes must have."""
    parts = urlsplit(model.artifact_uri or "")
    digest = parts.fragment.removeprefix(DIGEST_FRAGMENT)
    if parts.scheme != "file" or not parts.fragment.startswith(DIGEST_FRAGMENT):
        raise InvalidInput(
            f"{model.name} {model.version} has no artifact file with a SHA-256 digest recorded."
        )
    if not _is_sha256(digest):
        raise InvalidInput(
            f"The artifact digest recorded for {model.name} {model.version} is not SHA-256."
        )
    return Path(url2pathname(parts.path)), digest


def get(session: Session, name: str, version: str) -> RegisteredModel:
    model = session.scalar(
        select(RegisteredModel).where(
            RegisteredModel.name == name, RegisteredModel.version == version
        )
    )
    if model is None:
        raise NotFound(f"No model {name} version {version}.")
    return model


def versions(session: Session, name: str | None = None) -> list[RegisteredModel]:
    query = select(RegisteredModel).order_by(RegisteredModel.name, RegisteredModel.registered_at)
    if name:
        query = query.where(RegisteredModel.name == name)
    return list(session.scalars(query))


def live(session: Session, name: str) -> RegisteredModel | None:
    """The live version of a model, or None (then a person decides)."""
    return session.scalar(
        select(RegisteredModel).where(
            RegisteredModel.name == name, RegisteredModel.status == ModelStatus.LIVE.value
        )
    )


def shadows(session: Session, name: str) -> list[RegisteredModel]:
    return list(
        session.scalars(
            select(RegisteredModel).where(
                RegisteredModel.name == name, RegisteredModel.status == ModelStatus.SHADOW.value
            )
        )
    )


def attach_evidence(
    session: Session,
    model: RegisteredModel,
    *,
    by: User | None = None,
    fairness: dict[str, Any] | None = None,
    model_card: dict[str, Any] | None = None,
) -> RegisteredModel:
    if model.status in (ModelStatus.LIVE.value, ModelStatus.RETIRED.value):
        raise Conflict("Evidence is fixed once a model is live or retired; register a new version.")
    if fairness is not None:
        model.fairness = fairness
    if model_card is not None:
        model.model_card = model_card
    session.flush()
    _log(
        session,
        by,
        "model.evidence_attached",
        model,
        {"fairness": fairness is not None, "model_card": model_card is not None},
    )
    return model


def start_shadow(session: Session, model: RegisteredModel, *, by: User | None) -> RegisteredModel:
    if model.status != ModelStatus.CANDIDATE.value:
        raise Conflict(f"Only a candidate can go into shadow; this one is {model.status}.")
    model.status = ModelStatus.SHADOW.value
    session.flush()
    _log(session, by, "model.shadow_started", model)
    return model


def promotion_blockers(model: RegisteredModel) -> list[str]:
    """What stands between this model and going live, in words a reviewer can act on."""
    blockers = []
    if model.status not in (ModelStatus.CANDIDATE.value, ModelStatus.SHADOW.value):
        blockers.append(f"the model is {model.status}")
    verdict = (model.fairness or {}).get("verdict")
    if verdict != "pass":
        blockers.append(f"the fairness audit has not passed (verdict: {verdict or 'none'})")
    card = model.model_card or {}
    missing = [f for f in REQUIRED_CARD_FIELDS if not str(card.get(f, "")).strip()]
    if missing:
        blockers.append(f"the model card lacks {', '.join(missing)}")
    return blockers


def request_promotion(session: Session, model: RegisteredModel, *, by: User) -> RegisteredModel:
    blockers = promotion_blockers(model)
    if blockers:
        raise InvalidInput("This model cannot go live: " + "; ".join(blockers) + ".")
    model.promotion_requested_by = by.id
    session.flush()
    _log(session, by, "model.promotion_requested", model)
    return model


def approve_promotion(session: Session, model: RegisteredModel, *, by: User) -> RegisteredModel:
    """The second pair of eyes: a different person makes the model live; the old one retires."""
    if model.promotion_requested_by is None:
        raise Conflict("Nobody has asked for this model to go live.")
    if model.promotion_requested_by == by.id:
        raise Forbidden("Another person must approve a promotion you asked for (four eyes).")
    blockers = promotion_blockers(model)
    if blockers:
        raise InvalidInput("This model cannot go live: " + "; ".join(blockers) + ".")
    current = live(session, model.name)
    now = utcnow()
    if current is not None:
        current.status = ModelStatus.RETIRED.value
        current.retired_at = now
        session.flush()  # one live version per name at any moment
        _log(session, by, "model.retired", current, {"replaced_by": model.version})
    model.status = ModelStatus.LIVE.value
    model.approved_by = by.id
    model.live_since = now
    session.flush()
    _log(
        session,
        by,
        "model.promoted",
        model,
        {"requested_by": model.promotion_requested_by, "approved_by": by.id},
    )
    return model


def withdraw(session: Session, model: RegisteredModel, *, by: User, reason: str) -> RegisteredModel:
    """The stop switch: retire the model at once, whatever its status, with a reason."""
    text = reason.strip()
    if not text:
        raise InvalidInput("Give the reason for withdrawing this model.")
    if model.status == ModelStatus.RETIRED.value:
        raise Conflict("This model is already retired.")
    previous = model.status
    model.status = ModelStatus.RETIRED.value
    model.retired_at = utcnow()
    model.withdrawn_reason = text
    session.flush()
    _log(session, by, "model.withdrawn", model, {"was": previous})
    return model


def record_shadow(
    session: Session,
    model: RegisteredModel,
    *,
    input_digest: str,
    shadow_output: dict[str, Any],
    live_output: dict[str, Any] | None,
    live_model: RegisteredModel | None,
) -> ShadowOutput:
    """Store what a shadow model would have said; it is never acted on."""
    if model.status != ModelStatus.SHADOW.value:
        raise Conflict(f"{model.name} {model.version} is not in shadow.")
    agrees = None
    if live_output is not None:
        agrees = shadow_output.get("outcome") == live_output.get("outcome")
    row = ShadowOutput(
        model_id=model.id,
        live_model_id=live_model.id if live_model else None,
        input_digest=input_digest,
        live_output=live_output,
        shadow_output=shadow_output,
        agrees=agrees,
    )
    session.add(row)
    session.flush()
    return row


def agreement(session: Session, model: RegisteredModel) -> dict[str, Any]:
    """How often the shadow model's outcome matched the live one's."""
    rows = session.execute(
        select(ShadowOutput.agrees, func.count())
        .where(ShadowOutput.model_id == model.id)
        .group_by(ShadowOutput.agrees)
    ).all()
    counts = {agrees: int(n) for agrees, n in rows}
    compared = counts.get(True, 0) + counts.get(False, 0)
    return {
        "outputs": sum(counts.values()),
        "compared": compared,
        "agreed": counts.get(True, 0),
        "agreement_rate": counts.get(True, 0) / compared if compared else None,
    }
