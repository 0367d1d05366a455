"""Asking, rating and handing off: the assistant's records around each pipeline answer.

Every answer (or refusal) becomes a decision record holding the redacted question, the passages
retrieved, the composer and its version, each step's verdict and the confidence; the raw question
is never stored. A conversation keeps the redacted questions so follow-ups can use them.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, decisions
from townhall.core.auth import Team
from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.handoff import resolve_team
from townhall.governance import privacy
from townhall.services.assistant import scope
from townhall.services.assistant.models import Conversation, Document, Handoff, Rating, Turn
from townhall.services.assistant.pipeline import Answer, Pipeline, search_text

log = logging.getLogger(__name__)

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


def _conversation(
    session: Session, conversation_id: str | None, locale: str, *, restart_unknown: bool
) -> Conversation:
    if conversation_id:
        found = session.get(Conversation, conversation_id)
        if found is not None:
            return found
        if not restart_unknown:
            # A client naming a conversation expects its context: answering without it, under a
            # new id it may not notice, would give a wrong answer to a follow-up.
            raise NotFound(
                "There is no conversation with that id (conversations are deleted some days "
                "after their last question). Leave conversation_id out to start a new one.",
                field="conversation_id",
            )
    # Not added to the session yet: `ask` adds it after the pipeline has run, so no write (and,
    # on SQLite, no database-wide write lock) is held while a question is being answered.
    return Conversation(id=secrets.token_hex(CONVERSATION_ID_BYTES), locale=locale)


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


@dataclass(frozen=True)
class ShownTurn:
    """One turn as the chat page shows it: the (redacted) question, the reply and its sources."""

    question: str
    lines: list[str]
    refused: bool
    decision_id: str
    citations: list[dict[str, str]]


def conversation(session: Session, conversation_id: str | None) -> list[ShownTurn]:
    """The conversation so far, oldest first; empty for no id or one purged since."""
    found = turns(session, conversation_id) if conversation_id else []
    ids = [t.decision_id for t in found if t.decision_id]
    cited = {
        d.id: d.output.get("citations", [])
        for d in session.scalars(select(DecisionRecord).where(DecisionRecord.id.in_(ids)))
    }
    return [
        ShownTurn(
            question=t.question,
            lines=[line for line in t.answer.split("\n") if line.strip()],
            refused=t.refused,
            decision_id=t.decision_id or "",
            citations=[
                {k: str(c.get(k, "")) for k in ("url", "title", "heading")}
                for c in cited.get(t.decision_id or "", [])
            ],
        )
        for t in found
    ]


def _citation(passage: Any) -> dict[str, str]:
    return {"url": passage.url, "title": passage.title, "heading": passage.heading}


def _record(session: Session, answer: Answer, chat: Conversation, locale: str) -> str:
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
        subject_ref=f"conversation:{chat.id}",
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
    restart_unknown: bool = False,
) -> Reply:
    """Answer `question` in its conversation, recording the decision and the turn.

    An unknown `conversation_id` is NotFound, unless `restart_unknown` (a browser session that
    outlived its conversation): then a new conversation starts.
    """
    if not isinstance(question, str):
        raise InvalidInput("The question must be text.", field="question")
    if not question.strip():
        # Nothing to answer and nothing worth a decision record.
        raise InvalidInput("Enter your question.", field="question")
    chat = _conversation(session, conversation_id, locale or "en", restart_unknown=restart_unknown)
    new = chat not in session
    earlier = [] if new else history(session, chat.id)
    answer = pipeline.answer(question, history=earlier, locale=locale)
    if new:
        session.add(chat)
        session.flush()
    decision_id = _record(session, answer, chat, locale or chat.locale)
    session.add(
        Turn(
            conversation_id=chat.id,
            question=answer.redacted_question,
            answer=answer.text,
            refused=answer.refused,
            decision_id=decision_id,
        )
    )
    chat.last_at = utcnow()
    return Reply(
        answer=answer.text,
        citations=[_citation(p) for p in answer.citations],
        refused=answer.refused,
        reason=answer.reason,
        conversation_id=chat.id,
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


def _team_of_page(session: Session, url: str | None) -> str | None:
    if not url:
        return None
    return session.scalar(select(Document.owner_team).where(Document.url == url))


def _best_page(pipeline: Pipeline, question: str) -> str | None:
    """The page the question is about, if retrieval found one good enough to answer from.

    The nearest page to a question the guidance does not cover is about something else, and its
    team would be the wrong one to ask.
    """
    index = pipeline.index_provider()
    query = search_text(question)
    if not len(index) or not query.strip():
        return None
    found, _, passages = max(pipeline.search(index, query, (), None), key=lambda t: t[0].score)
    settings = pipeline.settings
    if not passages or scope.weak(
        found, settings.assistant_min_evidence, settings.assistant_min_overlap
    ):
        return None
    return passages[found.passage].url


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
    contact = (contact or "").strip()
    if not question:
        raise InvalidInput("Enter the question you want a person to answer.", field="question")
    if len(question) > pipeline.max_question_chars:
        # Cutting it short would lose part of what the citizen asked (and could split personal
        # data so that redaction misses the rest of it).
        raise InvalidInput(
            f"Your question must be {pipeline.max_question_chars} characters or fewer.",
            field="question",
        )
    if len(contact) > MAX_CONTACT_CHARS:
        raise InvalidInput(
            f"Contact details must be {MAX_CONTACT_CHARS} characters or fewer.", field="contact"
        )
    redacted = privacy.redact(question)
    team_slug: str | None = None
    evidence = "default team"
    routed = resolve_team(session, redacted)
    if routed is not None:
        team_slug, evidence = routed
    if team_slug is None:
        page = _best_page(pipeline, redacted)
        team_slug = _team_of_page(session, page)
        evidence = f"owner of {page}" if team_slug else evidence
    team = session.scalar(select(Team).where(Team.slug == (team_slug or default_team)))
    if team is None:
        team = session.scalar(select(Team).where(Team.slug == default_team))
        evidence = "default team"
    if team is None:
        # A new installation may not have the team yet. The citizen's question must not be lost
        # to that: with no team, the decision is in every reviewer's queue.
        log.warning(
            "assistant hand-off: there is no team %r (assistant_default_team); "
            "the hand-off is in every reviewer's queue",
            default_team,
        )
        evidence = f"default team {default_team!r}, which does not exist"
    slug = team.slug if team else default_team
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
        output={"team": slug, "question": redacted, "reason": reason},
        explanation={"team_from": evidence},
        summary=f"Hand-off to {team.name if team else slug}: {redacted}"[:300],
        team_id=team.id if team else None,
    )
    handoff = Handoff(
        conversation_id=conversation_id,
        team=slug,
        question=redacted,
        reason=reason[:200],
        contact=contact,
        decision_id=decision.id,
    )
    session.add(handoff)
    session.flush()
    audit.log(
        session,
        audit.SYSTEM,
        "assistant.handed_off",
        f"handoff:{handoff.id}",
        {"team": slug, "reason": reason[:200]},
    )
    return handoff


def team_name(session: Session, slug: str) -> str:
    """A team's name as a citizen reads it ("Waste and Recycling"), or its slug if it is gone."""
    return session.scalar(select(Team.name).where(Team.slug == slug)) or slug


def reference(handoff: Handoff) -> str:
    """The reference a citizen is given for a hand-off."""
    return f"ASK-{handoff.id:06d}"
