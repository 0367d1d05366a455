"""Asking, rating and handing off: the assistant's records around each pipeline answer.

Every answer (or refusal) becomes a decision record holding the redacted question, the passages
retrieved, the composer and its version, each step's verdict and the confidence; the raw question
is never stored. A conversation keeps the redacted questions so follow-ups can use them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, decisions
from townhall.core.auth import Team
from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput, NotFound
from townhall.governance import privacy
from townhall.services.assistant.models import Conversation, Document, Handoff, Rating, Turn
from townhall.services.assistant.pipeline import Answer, Pipeline

SERVICE = "assistant"
ANSWER = "assistant.answer"
HANDOFF = "assistant.handoff"
HISTORY_TURNS = 3  # earlier questions a follow-up may lean on
CONVERSATION_ID_BYTES = 16
MAX_CONTACT_CHARS = 300
MAX_COMMENT_CHARS = 1000


@dataclass(frozen=True)
class Reply:
    """What the page, the API and the CLI return for one question."""

    answer: str
    citations: list[dict[str, str]]
    refused: bool
    reason: str
    conversation_id: str
    decision_id: str
    confidence: float
    handoff_offered: bool
    steps: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": self.citations,
            "refused": self.refused,
            "reason": self.reason,
            "conversation_id": self.conversation_id,
            "decision_id": self.decision_id,
        }


def _conversation(session: Session, conversation_id: str | None, locale: str) -> Conversation:
    if conversation_id:
        found = session.get(Conversation, conversation_id)
        if found is not None:
            return found
        # An unknown or purged id starts afresh rather than failing: the citizen just keeps going.
    conversation = Conversation(id=secrets.token_hex(CONVERSATION_ID_BYTES), locale=locale)
    session.add(conversation)
    session.flush()
    return conversation


def history(session: Session, conversation_id: str) -> list[str]:
    """The conversation's earlier (redacted) questions, oldest first."""
    rows = session.scalars(
        select(Turn.question)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.id.desc())
        .limit(HISTORY_TURNS)
    ).all()
    return list(reversed(rows))


def turns(session: Session, conversation_id: str) -> list[Turn]:
    return list(
        session.scalars(
            select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id)
        )
    )


def _citation(passage: Any) -> dict[str, str]:
    return {"url": passage.url, "title": passage.title, "heading": passage.heading}


def _record(session: Session, answer: Answer, conversation: Conversation, locale: str) -> str:
    steps = [
        {"step": s.step, "passed": s.passed, "detail": s.detail, "data": s.data}
        for s in answer.steps
    ]
    retrieved: list[dict[str, Any]] = next(
        (s.data.get("passages", []) for s in answer.steps if s.step == "retrieval"), []
    )
    decision = decisions.record(
        session,
        service=SERVICE,
        decision_type=ANSWER,
        subject_ref=f"conversation:{conversation.id}",
        model_name=f"assistant-{answer.composer}",
        model_version=answer.model_version,
        inputs={"question": answer.redacted_question, "locale": locale},
        output={
            "question": answer.redacted_question,
            "answer": answer.text,
            "refused": answer.refused,
            "reason": answer.reason,
            "citations": [_citation(p) | {"chunk_id": p.chunk_id} for p in answer.citations],
            "retrieved": retrieved,
            "composer": answer.composer,
        },
        confidence=max(0.0, min(1.0, answer.confidence)),
        explanation={"steps": steps},
        summary=answer.redacted_question[:300],
    )
    return decision.id


def ask(
    session: Session,
    pipeline: Pipeline,
    question: str,
    *,
    conversation_id: str | None = None,
    locale: str | None = None,
) -> Reply:
    """Answer `question` in its conversation, recording the decision and the turn."""
    if not isinstance(question, str):
        raise InvalidInput("The question must be text.", field="question")
    conversation = _conversation(session, conversation_id, locale or "en")
    earlier = history(session, conversation.id)
    answer = pipeline.answer(question, history=earlier, locale=locale)
    decision_id = _record(session, answer, conversation, locale or conversation.locale)
    session.add(
        Turn(
            conversation_id=conversation.id,
            question=answer.redacted_question,
            answer=answer.text,
            refused=answer.refused,
            decision_id=decision_id,
        )
    )
    conversation.last_at = utcnow()
    return Reply(
        answer=answer.text,
        citations=[_citation(p) for p in answer.citations],
        refused=answer.refused,
        reason=answer.reason,
        conversation_id=conversation.id,
        decision_id=decision_id,
        confidence=answer.confidence,
        handoff_offered=answer.handoff_offered,
        steps=[{"step": s.step, "passed": s.passed, "detail": s.detail} for s in answer.steps],
    )


def rate(session: Session, decision_id: str, *, helpful: bool, comment: str = "") -> Rating:
    """A citizen's rating of an answer; the comment is redacted before it is kept."""
    decision = session.get(DecisionRecord, decision_id)
    if decision is None or decision.decision_type != ANSWER:
        raise NotFound("There is no answer to rate with that reference.")
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(
            f"The comment must be {MAX_COMMENT_CHARS} characters or fewer.", field="comment"
        )
    rating = Rating(
        decision_id=decision_id,
        helpful=helpful,
        comment=privacy.redact(comment) if comment.strip() else "",
    )
    session.add(rating)
    return rating


# A hand-off's team: the first resolver with an answer wins. The routing service adds its model
# here; until then the team owning the best-matching page, then the configured default team.
TeamResolver = Callable[[Session, str], str | None]
TEAM_RESOLVERS: list[TeamResolver] = []


def _team_of_page(session: Session, url: str | None) -> str | None:
    if not url:
        return None
    return session.scalar(select(Document.owner_team).where(Document.url == url))


def hand_off(
    session: Session,
    pipeline: Pipeline,
    question: str,
    *,
    default_team: str,
    conversation_id: str | None = None,
    reason: str = "asked for a person",
    contact: str = "",
) -> Handoff:
    """Pass a question to the team that owns its topic, as a decision in that team's queue."""
    question = (question or "").strip()
    if not question:
        raise InvalidInput("Enter the question you want a person to answer.", field="question")
    if len(contact) > MAX_CONTACT_CHARS:
        raise InvalidInput(
            f"Contact details must be {MAX_CONTACT_CHARS} characters or fewer.", field="contact"
        )
    redacted = privacy.redact(question[: pipeline.max_question_chars])
    team_slug, evidence = None, "default team"
    for resolver in TEAM_RESOLVERS:
        team_slug = resolver(session, redacted)
        if team_slug:
            evidence = "router"
            break
    if team_slug is None:
        passages = pipeline.retrieve(redacted)
        team_slug = _team_of_page(session, passages[0].url if passages else None)
        evidence = f"owner of {passages[0].url}" if team_slug else evidence
    team = session.scalar(select(Team).where(Team.slug == (team_slug or default_team)))
    if team is None:
        team = session.scalar(select(Team).where(Team.slug == default_team))
        evidence = "default team"
    if team is None:
        raise InvalidInput(
            f"No team can take hand-offs: create the team {default_team!r} "
            "or set assistant_default_team."
        )
    if conversation_id and session.get(Conversation, conversation_id) is None:
        conversation_id = None
    decision = decisions.record(
        session,
        service=SERVICE,
        decision_type=HANDOFF,
        subject_ref=f"conversation:{conversation_id or 'none'}",
        model_name="assistant-handoff",
        model_version="1",
        inputs={"question": redacted},
        output={"team": team.slug, "question": redacted, "reason": reason},
        explanation={"team_from": evidence},
        summary=f"Hand-off to {team.name}: {redacted}"[:300],
        team_id=team.id,
    )
    handoff = Handoff(
        conversation_id=conversation_id,
        team=team.slug,
        question=redacted,
        reason=reason[:200],
        contact=contact.strip(),
        decision_id=decision.id,
    )
    session.add(handoff)
    session.flush()
    audit.log(
        session,
        audit.SYSTEM,
        "assistant.handed_off",
        f"handoff:{handoff.id}",
        {"team": team.slug, "reason": reason[:200]},
    )
    return handoff


def reference(handoff: Handoff) -> str:
    """The reference a citizen is given for a hand-off."""
    return f"ASK-{handoff.id:06d}"
