"""Intake: answers in, a case out, from any channel (web, API, CSV, document, hand-off, appeal).

Valid answers are submitted and triaged at once, in the caller's transaction: the rules in force
propose priority, team, service level and an outcome, recorded as a decision in the team's review
queue. Invalid answers are never lost: they are kept as a draft with their field errors, and the
one who sent them gets a token to correct and send them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from townhall.core import audit, decisions
from townhall.core.auth import Team
from townhall.core.db import utcnow
from townhall.core.errors import Conflict, InvalidInput, NotFound
from townhall.governance.keys import pseudonymiser
from townhall.services.casework.catalogue import SERVICE_NAME, TRIAGE, Catalogue
from townhall.services.casework.models import Case, CaseEvent, ReferenceCounter, Status
from townhall.services.casework.rules import OUTCOMES, Fired, Triage, triage
from townhall.services.casework.schema import FormSpec
from townhall.services.casework.sla import add_working_days
from townhall.services.casework.validation import FieldError, from_json, to_json, validate
from townhall.settings import Settings

log = logging.getLogger("townhall.casework")

CHANNELS = ("web", "api", "csv", "document", "assistant", "appeal", "demo")
MAX_ANSWERS_BYTES = 256 * 1024  # a draft keeps what was sent, within reason
MAX_RAW_VALUE_CHARS = 10_000


@dataclass
class Submission:
    """What intake did with one set of answers."""

    case: Case
    errors: list[FieldError] = field(default_factory=list)
    resume_token: str | None = None  # shown once, for a draft
    triage: Triage | None = None
    held: bool = False  # valid, but kept as a draft until a caseworker confirms it

    @property
    def submitted(self) -> bool:
        return not self.errors and not self.held


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def event(
    session: Session,
    case: Case,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    *,
    citizen_visible: bool = False,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            actor=actor[:100],
            action=action,
            detail=detail or {},
            citizen_visible=citizen_visible,
            at=utcnow(),
        )
    )


def next_reference(session: Session, prefix: str) -> str:
    """The next reference for a form's prefix: BB-000001, BB-000002, ...

    The increment is one UPDATE ... RETURNING, so it happens under the row's write lock on both
    backends: a read-then-write would let two concurrent submissions on SQLite (which reads
    outside any transaction until the first write) take the same number.
    """
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    session.execute(insert(ReferenceCounter).values(prefix=prefix, last=0).on_conflict_do_nothing())
    number = session.scalar(
        update(ReferenceCounter)
        .where(ReferenceCounter.prefix == prefix)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    return f"{prefix}-{number:06d}"


def _kept(value: Any, depth: int = 0) -> Any:
    """A draft keeps what was sent, as JSON; only hidden control characters are dropped, since
    PostgreSQL cannot store NUL and nobody can see the others."""
    if isinstance(value, str):
        return "".join(ch for ch in value[:MAX_RAW_VALUE_CHARS] if ch >= " " or ch in "\n\t")
    if isinstance(value, list) and depth < 2:
        return [_kept(item, depth + 1) for item in value[:100]]
    if isinstance(value, dict) and depth < 2:
        return {str(k)[:64]: _kept(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or abs(value) < 10**18 else str(value)
    return str(value)[:MAX_RAW_VALUE_CHARS]


def _raw_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    kept = {str(name)[:64]: _kept(value) for name, value in list(answers.items())[:200]}
    if len(json.dumps(kept, default=str)) > MAX_ANSWERS_BYTES:
        raise InvalidInput(
            "The answers are too long to keep. Shorten them and try again.", field="answers"
        )
    return kept


def household_key(settings: Settings, answers: Mapping[str, Any]) -> str | None:
    line, postcode = answers.get("address_line_1"), answers.get("postcode")
    if not line or not postcode:
        return None
    address = f"{' '.join(str(line).split())}|{postcode}"
    return pseudonymiser(settings).token(address, "ADDRESS")


def context_facts(session: Session, case: Case, now: dt.datetime) -> dict[str, Any]:
    """Facts from the case's surroundings, named in formulas.CONTEXT for its form."""
    if case.household_key is None:
        return {}
    same_household = (
        select(func.count())
        .select_from(Case)
        .where(
            Case.form == case.form,
            Case.household_key == case.household_key,
            Case.id != case.id,
            Case.status != Status.DRAFT.value,
            Case.appeal_of_id.is_(None),
        )
    )
    if case.form == "parking-permit":
        live = (Case.outcome.is_(None)) | (Case.outcome == "approve")
        return {"household_permits": int(session.scalar(same_household.where(live)) or 0)}
    if case.form == "missed-bin":
        since = now - dt.timedelta(days=28)
        recent = same_household.where(Case.submitted_at >= since)
        return {"earlier_reports_at_address": int(session.scalar(recent) or 0)}
    return {}


def team_named(session: Session, slug: str) -> Team | None:
    return session.scalar(select(Team).where(Team.slug == slug))


def _record_triage(
    session: Session,
    settings: Settings,
    form: FormSpec,
    case: Case,
    result: Triage,
    context: Mapping[str, Any],
) -> None:
    team = team_named(session, result.team) or team_named(session, form.team)
    if team is None:
        # The case is kept whatever: it waits in the unassigned queue every caseworker sees.
        log.warning("casework: no team %r for %s; the case has no team", result.team, form.id)
    subject = pseudonymiser(settings).token(case.reference, "CASE_REFERENCE")
    decision = decisions.record(
        session,
        service=SERVICE_NAME,
        decision_type=TRIAGE,
        subject_ref=subject,
        model_name=f"casework-rules/{form.id}",
        model_version=f"{form.version}+{result.version}",
        inputs={"form": form.id, "answers": case.answers, "context": dict(context)},
        output={
            "outcome": result.recommendation,
            "options": list(OUTCOMES),
            "priority": result.priority,
            "team": result.team,
            "sla_working_days": result.sla_working_days,
            "case": case.reference,
        },
        explanation={
            "reasons": result.reasons(),
            "policy": result.policy,
            "rules_from": result.version,
            "derived": result.derived,
        },
        summary=(
            f"{case.reference} {form.title}: {result.priority} priority, "
            f"proposed {result.recommendation}"
        ),
        team_id=team.id if team else None,
    )
    case.triage_decision_id = decision.id
    case.team_id = team.id if team else None
    case.priority = result.priority
    case.recommendation = result.recommendation
    assert case.submitted_at is not None
    case.sla_due_at = add_working_days(case.submitted_at, result.sla_working_days)
    case.status = Status.TRIAGED.value
    event(
        session,
        case,
        audit.SYSTEM,
        "triaged",
        {
            "priority": result.priority,
            "team": result.team,
            "recommendation": result.recommendation,
            "reasons": [fired.reason for fired in result.fired],
            "decision_id": decision.id,
        },
    )


def triage_case(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    case: Case,
    *,
    now: dt.datetime,
    extra: list[Fired] | None = None,
    team: str | None = None,
    priority: str | None = None,
) -> Triage:
    """Run the rules over a submitted case and record what they propose."""
    form = catalogue.form(case.form)
    context = context_facts(session, case, now)
    result = triage(
        form,
        catalogue.rules_for(form),
        from_json(form, case.answers),
        on=now.date(),
        context=context,
    )
    if extra:
        result.fired[:0] = extra
    if team:
        result = _replace(result, team=team)
    if priority:
        result = _replace(result, priority=priority)
    _record_triage(session, settings, form, case, result, context)
    return result


def _replace(result: Triage, **changes: Any) -> Triage:
    from dataclasses import replace

    return replace(result, **changes)


def submit(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    *,
    form_id: str,
    answers: Mapping[str, Any],
    channel: str,
    actor: str,
    draft: str | None = None,
    resume_token: str | None = None,
    staff: bool = False,
    now: dt.datetime | None = None,
    extraction: dict[str, Any] | None = None,
    source_decision_id: str | None = None,
    appeal_of: Case | None = None,
    extra_reasons: list[Fired] | None = None,
    team: str | None = None,
    priority: str | None = None,
    hold: bool = False,
) -> Submission:
    """Check answers and submit them as a case, or keep them as a draft with their errors.

    Pass `draft` (a reference) with its `resume_token` to correct a draft; staff (`staff=True`)
    need no token. `hold` keeps even valid answers as a draft, for answers read from a document
    that a caseworker must confirm first. `now` is for tests and imports of past submissions.
    """
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel {channel!r}.", field="channel")
    now = now or utcnow()
    form = catalogue.form(form_id)
    result = validate(form, answers, today=now.date())
    # Checked before anything is added to the session, so a refusal leaves nothing half-made.
    raw = _raw_answers(answers) if result.errors or hold else None
    case = _draft_to_update(session, form, draft, resume_token, staff) if draft else None
    token: str | None = None
    if case is None:
        case = Case(
            reference=next_reference(session, form.reference_prefix),
            form=form.id,
            form_version=form.version,
            channel=channel,
            status=Status.DRAFT.value,
            answers={},
            errors=[],
            created_at=now,
            updated_at=now,
            source_decision_id=source_decision_id,
            appeal_of_id=appeal_of.id if appeal_of else None,
        )
        session.add(case)
    case.updated_at = now
    case.form_version = form.version
    if extraction is not None:
        case.extraction = extraction
    if raw is not None:
        case.answers = raw
        case.errors = [error.as_dict() for error in result.errors]
        if case.resume_token_hash is None or draft is None:
            token = secrets.token_urlsafe(24)
            case.resume_token_hash = token_digest(token)
        session.flush()
        event(
            session,
            case,
            actor,
            "saved_as_draft" if result.errors else "awaiting_confirmation",
            {"errors": len(result.errors), "channel": channel},
        )
        audit.log(
            session,
            actor,
            "casework.draft_saved",
            f"case:{case.reference}",
            {"form": form.id, "errors": len(result.errors), "channel": channel},
        )
        return Submission(case, result.errors, token, held=not result.errors)

    case.answers = to_json(result.answers)
    case.errors = []
    case.resume_token_hash = None
    case.status = Status.SUBMITTED.value
    case.submitted_at = now
    case.household_key = household_key(settings, result.answers)
    session.flush()
    event(
        session,
        case,
        actor,
        "submitted",
        {"channel": channel, "dropped": result.dropped},
        citizen_visible=True,
    )
    outcome = triage_case(
        session,
        catalogue,
        settings,
        case,
        now=now,
        extra=extra_reasons,
        team=team,
        priority=priority,
    )
    audit.log(
        session,
        actor,
        "casework.submitted",
        f"case:{case.reference}",
        {
            "form": form.id,
            "channel": channel,
            "priority": outcome.priority,
            "decision_id": case.triage_decision_id,
        },
    )
    return Submission(case, [], None, outcome)


def _draft_to_update(
    session: Session, form: FormSpec, reference: str, token: str | None, staff: bool
) -> Case:
    case = session.scalar(select(Case).where(Case.reference == reference.strip().upper()))
    if case is None or case.form != form.id:
        raise NotFound(f"There is no draft {reference} of this form.", field="draft")
    if case.status != Status.DRAFT.value:
        raise Conflict(f"{case.reference} has already been sent; it is not a draft.")
    if not staff:
        expected = case.resume_token_hash or ""
        if not token or not hmac.compare_digest(expected, token_digest(token)):
            raise NotFound(
                f"There is no draft {reference} of this form, or the token is wrong.",
                field="resume_token",
            )
    return case


def find_case(session: Session, reference: str) -> Case:
    case = session.scalar(select(Case).where(Case.reference == reference.strip().upper()))
    if case is None:
        raise NotFound(f"There is no case {reference.strip()[:30]}.", field="reference")
    return case
