"""Content gaps: questions the assistant refused or citizens rated unhelpful, grouped by topic.

Questions are grouped by meaning (agglomerative clustering of their embeddings, cosine distance),
so "when do the bins go out" and "bin collection day" land together even with no shared words.
The biggest groups are the guidance pages most worth writing or fixing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core.db import utcnow
from townhall.core.decisions import DecisionRecord
from townhall.core.embeddings import encoder
from townhall.services.assistant.models import Rating, Turn

DISTANCE = 0.45  # cosine distance within a group: about "the same question, other words"
MAX_QUESTIONS = 2000  # the most recent gaps considered; the page must stay quick


@dataclass(frozen=True)
class Gap:
    question: str  # redacted
    why: str  # "refused: weak_evidence" or "rated unhelpful"
    at: dt.datetime


@dataclass(frozen=True)
class Topic:
    label: str  # the question nearest the group's centre
    count: int
    reasons: dict[str, int]
    examples: list[str]


def gaps(session: Session, days: int = 30) -> list[Gap]:
    since = utcnow() - dt.timedelta(days=days)
    found: list[Gap] = []
    refused = session.execute(
        select(Turn.question, Turn.decision_id, Turn.at)
        .where(Turn.refused.is_(True), Turn.at >= since)
        .order_by(Turn.at.desc())
        .limit(MAX_QUESTIONS)
    ).all()
    reasons = {
        d.id: str(d.output.get("reason", ""))
        for d in session.scalars(
            select(DecisionRecord).where(
                DecisionRecord.id.in_([r.decision_id for r in refused if r.decision_id])
            )
        )
    }
    # Injection attempts are not content gaps.
    for question, decision_id, at in refused:
        reason = reasons.get(decision_id or "", "")
        if reason != "injection":
            found.append(Gap(question, f"refused: {reason or 'unknown'}", at))
    unhelpful = session.execute(
        select(DecisionRecord.output, Rating.at)
        .join(Rating, Rating.decision_id == DecisionRecord.id)
        .where(Rating.helpful.is_(False), Rating.at >= since)
        .order_by(Rating.at.desc())
        .limit(MAX_QUESTIONS)
    ).all()
    for output, at in unhelpful:
        found.append(Gap(str(output.get("question", "")), "rated unhelpful", at))
    return [g for g in found if g.question.strip()][:MAX_QUESTIONS]


def topics(found: list[Gap], examples: int = 3) -> list[Topic]:
    """Group gaps by meaning, biggest group first."""
    if not found:
        return []
    vectors = encoder().encode([g.question for g in found])
    if len(found) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=DISTANCE
        ).fit_predict(vectors)
    grouped: list[Topic] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        order = members[np.argsort(-(vectors[members] @ centre))]
        questions = [found[i].question for i in order]
        grouped.append(
            Topic(
                label=questions[0],
                count=len(members),
                reasons=dict(Counter(found[i].why for i in members)),
                examples=list(dict.fromkeys(questions))[:examples],
            )
        )
    return sorted(grouped, key=lambda t: (-t.count, t.label))
