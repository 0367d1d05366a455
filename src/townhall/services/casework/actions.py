"""What people do to a case: assign, ask for more information, decide, ask for a review.

Every action checks the case is in a state that allows it, writes a readable event and an audit
entry, and happens in the caller's transaction. Deciding closes the rules' proposal through the
core review: accepted when the caseworker's outcome is the one proposed, overridden (with the
caseworker's reason) when it is not, so fairness audits see both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, review
from townhall.core.auth import User
from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.decisions import Status as DecisionStatus
from townhall.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from townhall.core.permissions import USERS_MANAGE
from townhall.services.casework.catalogue import Catalogue
from townhall.services.casework.intake import Submission, event, find_case, submit
from townhall.services.casework.models import OPEN, Case, Status
from townhall.services.casework.rules import OUTCOMES, Fired
from townhall.services.casework.sla import resume
from townhall.services.casework.validation import normalise_postcode
from townhall.settings import Settings

MAX_TEXT = 5000
DECIDING = "casework.deciding"  # session.info key: the triage decision being closed by decide()


def actor_of(user: User) -> str:
    return f"user:{user.id}"


def sees_every_team(user: User | None) -> bool:
    """Admins and auditors see every team's cases; so does the command line (None), which runs
    with the database's own access."""
    return user is None or user.can(USERS_MANAGE) or user.role == "auditor"


def visible_case(session: Session, user: User | None, reference: str) -> Case:
    """The case, if the user's teams may see it (cases with no team are everyone's)."""
    case = find_case(session, reference)
    if case.status == Status.DRAFT.value and case.channel in ("web", "api"):
        # A citizen's unfinished draft is theirs until they send it; drafts from bulk uploads,
        # documents and reviews are staff's to complete.
        raise NotFound(f"There is no case {reference.strip()[:30]}.", field="reference")
    if sees_every_team(user) or case.team_id is None:
        return case
    assert user is not None
    if case.team_id in user.team_ids:
        return case
    raise NotFound(f"There is no case {reference.strip()[:30]}.", field="reference")


def _text(value: str | None, field: str, missing: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(missing, field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"This must be {MAX_TEXT} characters or less.", field=field)
    if "\x00" in text:
        raise InvalidInput("This must not include hidden characters.", field=field)
    return text


def _must_be_open(case: Case, doing: str) -> None:
    if case.status not in {status.value for status in OPEN}:
        raise Conflict(
            f"{case.reference} is {case.status.replace('_', ' ')}, so it cannot be {doing}."
        )


def assign(session: Session, user: User, reference: str, *, assignee: str | None = None) -> Case:
    """Give the case to a member of its team (by username; default: the user themself)."""
    case = visible_case(session, user, reference)
    _must_be_open(case, "assigned")
    target = user
    if assignee and assignee != user.username:
        found = session.scalar(select(User).where(User.username == assignee))
        if found is None or not found.active:
            raise InvalidInput(
                f"There is no member of staff called {assignee!r}.", field="assignee"
            )
        target = found
    outside = case.team_id is not None and case.team_id not in target.team_ids
    if outside and not sees_every_team(target):
        raise InvalidInput(f"{target.username} is not in this case's team.", field="assignee")
    case.assignee_id = target.id
    if case.status == Status.TRIAGED.value:
        case.status = Status.IN_REVIEW.value
    case.updated_at = utcnow()
    event(session, case, actor_of(user), "assigned", {"to": target.username})
    audit.log(
        session, actor_of(user), "casework.assigned", f"case:{case.reference}", {"to": target.id}
    )
    return case


def request_information(session: Session, user: User, reference: str, *, message: str) -> Case:
    """Ask the citizen for more; the service level clock stops until they reply."""
    case = visible_case(session, user, reference)
    if case.status not in (Status.TRIAGED.value, Status.IN_REVIEW.value):
        _must_be_open(case, "sent another request")
        raise Conflict(f"{case.reference} is already waiting for information from the citizen.")
    text = _text(message, "message", "Enter what you need from the citizen")
    now = utcnow()
    case.status = Status.MORE_INFO_REQUESTED.value
    case.info_requested = text
    case.sla_paused_at = now
    case.updated_at = now
    if case.assignee_id is None:
        case.assignee_id = user.id
    event(
        session,
        case,
        actor_of(user),
        "information_requested",
        {"message": text},
        citizen_visible=True,
    )
    audit.log(session, actor_of(user), "casework.information_requested", f"case:{case.reference}")
    return case


def check_verifier(catalogue: Catalogue, case: Case, verifier: str | None) -> bool:
    """Whether `verifier` is the postcode or email address given on the case."""
    if not verifier or not verifier.strip():
        return False
    form = catalogue.form(case.form)
    given = verifier.strip()
    for name in form.verifier_fields:
        stored = case.answers.get(name)
        if not isinstance(stored, str) or not stored:
            continue
        spec = form.fields[name]
        candidate = given.lower() if spec.type == "email" else _postcode_or_raw(given)
        expected = stored.lower() if spec.type == "email" else stored
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return True
    return False


def _postcode_or_raw(value: str) -> str:
    compact = "".join(value.split()).upper()
    return normalise_postcode(compact) if 5 <= len(compact) <= 7 else value


def citizen_case(catalogue: Catalogue, session: Session, reference: str, verifier: str) -> Case:
    """The case a citizen names with its reference and their postcode or email address."""
    try:
        case = find_case(session, reference)
    except NotFound:
        case = None
    if (
        case is None
        or case.status == Status.DRAFT.value
        or not check_verifier(catalogue, case, verifier)
    ):
        # One answer for "no such case" and "wrong postcode", so neither can be probed for.
        raise NotFound(
            "We could not find a case with that reference and postcode or email address. "
            "Check both and try again.",
            field="verifier",
        )
    return case


def reply(
    session: Session,
    catalogue: Catalogue,
    reference: str,
    *,
    message: str,
    verifier: str | None = None,
    user: User | None = None,
) -> Case:
    """The citizen's answer to a request for information (or staff recording one they gave
    another way); the case goes back to its caseworker and the clock starts again."""
    if user is not None:
        case = visible_case(session, user, reference)
        actor = actor_of(user)
    else:
        case = citizen_case(catalogue, session, reference, verifier or "")
        actor = "citizen"
    if case.status != Status.MORE_INFO_REQUESTED.value:
        raise Conflict(f"We are not waiting for information about {case.reference}.")
    text = _text(message, "message", "Enter the information you were asked for")
    now = utcnow()
    if case.sla_due_at and case.sla_paused_at:
        case.sla_due_at = resume(case.sla_due_at, case.sla_paused_at, now)
    case.sla_paused_at = None
    case.status = Status.IN_REVIEW.value if case.assignee_id else Status.TRIAGED.value
    case.updated_at = now
    event(session, case, actor, "information_received", {"message": text}, citizen_visible=True)
    audit.log(session, actor, "casework.information_received", f"case:{case.reference}")
    return case


def _close_proposal(session: Session, user: User, case: Case, outcome: str, reason: str) -> str:
    """Accept or override the rules' proposal through the core review; returns what happened."""
    if not case.triage_decision_id:
        return "none"
    decision = session.get(DecisionRecord, case.triage_decision_id)
    if decision is None or decision.status != DecisionStatus.PROPOSED.value:
        return decision.status if decision is not None else "none"
    session.info[DECIDING] = decision.id
    try:
        if decision.output.get("outcome") == outcome:
            review.accept(session, user, decision.id, reason=reason)
            return "accepted"
        final = {**decision.output, "outcome": outcome}
        final.pop("options", None)
        review.override(session, user, decision.id, final_output=final, reason=reason)
        return "overridden"
    finally:
        session.info.pop(DECIDING, None)


def on_triage_override(
    session: Session, user: User, decision: DecisionRecord, final: dict[str, Any]
) -> None:
    """Registered with the core review, for proposals overridden from the review queue rather
    than by deciding the case: the outcome must be one a case can have, and the case's history
    says a reviewer disagreed. The case itself is still decided by its caseworker."""
    if session.info.get(DECIDING) == decision.id:
        return
    case = session.scalar(select(Case).where(Case.triage_decision_id == decision.id))
    if case is None:
        return
    if final.get("outcome") not in OUTCOMES:
        raise InvalidInput("Choose approve, refuse or refer.", field="outcome")
    event(
        session,
        case,
        actor_of(user),
        "proposal_overridden",
        {"outcome": final.get("outcome"), "decision_id": decision.id},
    )


def decide(session: Session, user: User, reference: str, *, outcome: str, reason: str) -> Case:
    """Approve, refuse or refer the case, with the reason the citizen will read."""
    if outcome not in OUTCOMES:
        raise InvalidInput("Select approve, refuse or refer.", field="outcome")
    text = _text(reason, "reason", "Enter the reason for your decision")
    case = visible_case(session, user, reference)
    _must_be_open(case, "decided")
    if case.appeal_of_id is not None:
        original = session.get(Case, case.appeal_of_id)
        if original is not None and original.decided_by_id == user.id:
            raise Forbidden(
                "A review must be decided by someone other than the person who made the "
                "original decision."
            )
    proposal = _close_proposal(session, user, case, outcome, text)
    now = utcnow()
    case.status = Status.DECIDED.value
    case.outcome = outcome
    case.decision_reason = text
    case.decided_at = now
    case.decided_by_id = user.id
    case.sla_paused_at = None
    case.updated_at = now
    if case.assignee_id is None:
        case.assignee_id = user.id
    event(
        session,
        case,
        actor_of(user),
        "decided",
        {"outcome": outcome, "reason": text, "proposal": proposal},
        citizen_visible=True,
    )
    audit.log(
        session,
        actor_of(user),
        "casework.decided",
        f"case:{case.reference}",
        {"outcome": outcome, "recommended": case.recommendation, "proposal": proposal},
    )
    _close_handoff(session, user, case)
    return case


def _close_handoff(session: Session, user: User, case: Case) -> None:
    """A case made from an assistant hand-off answers it: accept the hand-off's routing."""
    if not case.source_decision_id:
        return
    decision = session.get(DecisionRecord, case.source_decision_id)
    if decision is None or decision.status != DecisionStatus.PROPOSED.value:
        return
    # Another team's hand-off record is left for its own reviewers to close.
    with contextlib.suppress(NotFound, Conflict):
        review.accept(session, user, decision.id, reason=f"Answered in case {case.reference}")


def appeal(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    reference: str,
    *,
    reason: str,
    verifier: str | None = None,
    user: User | None = None,
) -> Submission:
    """Ask for a review of a refusal: a new case, linked to the refused one, high priority."""
    if user is not None:
        case = visible_case(session, user, reference)
        actor = actor_of(user)
    else:
        case = citizen_case(catalogue, session, reference, verifier or "")
        actor = "citizen"
    text = _text(reason, "reason", "Enter why you think the decision is wrong")
    if case.status == Status.APPEALED.value:
        raise Conflict(f"A review of {case.reference} has already been asked for.")
    if case.status != Status.DECIDED.value or case.outcome != "refuse":
        raise Conflict(f"Only a refusal can be reviewed, and {case.reference} was not refused.")
    form = catalogue.form(case.form)
    team = _team_slug(session, case)
    made = submit(
        session,
        catalogue,
        settings,
        form_id=form.id,
        answers={**case.answers},
        channel="appeal",
        actor=actor,
        staff=True,
        appeal_of=case,
        extra_reasons=[
            Fired(
                "review-requested",
                f"Asks for a review of the refusal of {case.reference}: {text}",
            )
        ],
        team=team,
        priority="high",
    )
    if not made.submitted:
        # The form changed since the first decision: the answers no longer pass. The review
        # still goes ahead, as a draft a caseworker completes with the citizen.
        made.case.channel = "appeal"
    now = utcnow()
    case.status = Status.APPEALED.value
    case.updated_at = now
    event(
        session,
        case,
        actor,
        "review_requested",
        {"reason": text, "review_case": made.case.reference},
        citizen_visible=True,
    )
    event(session, made.case, actor, "review_of", {"case": case.reference, "reason": text})
    audit.log(
        session,
        actor,
        "casework.review_requested",
        f"case:{case.reference}",
        {"review_case": made.case.reference},
    )
    return made


def _team_slug(session: Session, case: Case) -> str | None:
    from townhall.core.auth import Team

    team = session.get(Team, case.team_id) if case.team_id else None
    return team.slug if team else None


def confirm_extraction(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    user: User,
    reference: str,
    *,
    corrections: dict[str, Any] | None = None,
) -> Submission:
    """A caseworker confirms (and corrects) answers read from a document; a draft that now
    passes is submitted and triaged."""
    case = visible_case(session, user, reference)
    if not case.extraction:
        raise Conflict(f"{case.reference} has no answers read from a document to confirm.")
    if case.status != Status.DRAFT.value:
        raise Conflict(f"{case.reference} has already been submitted.")
    corrections = corrections or {}
    answers = {**case.answers, **corrections}
    extraction = {
        name: {**item, "confirmed": True, "corrected": name in corrections}
        for name, item in case.extraction.items()
    }
    made = submit(
        session,
        catalogue,
        settings,
        form_id=case.form,
        answers=answers,
        channel=case.channel,
        actor=actor_of(user),
        draft=case.reference,
        staff=True,
        extraction=extraction,
    )
    event(
        session,
        case,
        actor_of(user),
        "extraction_confirmed",
        {"corrected": sorted(corrections), "submitted": made.submitted},
    )
    return made


def set_priority(
    session: Session, user: User, reference: str, *, priority: str, reason: str
) -> Case:
    """Change the priority the rules gave, with a reason (the proposal itself is unchanged)."""
    from townhall.services.casework.rules import PRIORITIES

    if priority not in PRIORITIES:
        raise InvalidInput(f"Select one of {', '.join(PRIORITIES)}.", field="priority")
    text = _text(reason, "reason", "Enter why you are changing the priority")
    case = visible_case(session, user, reference)
    _must_be_open(case, "reprioritised")
    before = case.priority
    case.priority = priority
    case.updated_at = utcnow()
    event(
        session,
        case,
        actor_of(user),
        "reprioritised",
        {"from": before, "to": priority, "reason": text},
    )
    audit.log(
        session,
        actor_of(user),
        "casework.reprioritised",
        f"case:{case.reference}",
        {"from": before, "to": priority},
    )
    return case


def age_days(case: Case, now: dt.datetime) -> float:
    start = case.submitted_at or case.created_at
    return max(0.0, (now - start).total_seconds() / 86400)
