"""The citizen assistant: answers from the body's own guidance, with citations, or hands off.

Plugs into the core through its seams: answers are decision records (answers.py), hand-offs are
decisions in the owning team's review queue, conversations and ratings follow retention rules,
and ingesting guidance is a background job with progress on the staff page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from townhall.core.jobs import Job, Progress
from townhall.core.service import Service
from townhall.governance import retention
from townhall.services.assistant import api, cli, pages
from townhall.services.assistant.answers import ANSWER, HANDOFF
from townhall.services.assistant.models import Conversation, Handoff, Rating
from townhall.services.assistant.permissions import ASSISTANT_MANAGE, PERMISSIONS
from townhall.settings import Settings

retention.register_record_type("assistant_conversations", Conversation, Conversation.last_at)
retention.register_record_type("assistant_handoffs", Handoff, Handoff.at)
retention.register_record_type("assistant_ratings", Rating, Rating.at)


def _ingest_job(settings: Settings, progress: Progress, *, sources: list[str]) -> dict[str, Any]:
    from townhall.core.db import get_engine, transaction
    from townhall.services.assistant.ingest import ingest
    from townhall.services.assistant.runtime import progress_beside

    with transaction(get_engine(settings.database_url, settings.database_echo)) as session:
        shown = progress_beside(session, progress)
        report = ingest(session, sources, settings=settings, progress=shown)
    return report.as_dict()


DEMO_GUIDANCE = Path(__file__).parent / "demo_guidance"


def _demo(session: Session, settings: Settings) -> str:
    from townhall.services.assistant.ingest import ingest

    report = ingest(session, [str(DEMO_GUIDANCE)], settings=settings)
    pages = report.added + report.updated + report.unchanged
    return f"{pages} guidance pages indexed ({report.added} new, {report.updated} updated)"


INGEST_JOB = Job("assistant.ingest", _ingest_job, "Add or update the assistant's guidance.")

SERVICE = Service(
    name="assistant",
    title="Citizen assistant",
    description="Answers from the council's guidance with citations; content gaps and hand-offs.",
    home_url="/assistant",
    home_permission=ASSISTANT_MANAGE,
    router=api.router,
    pages=pages.router,
    cli=cli.app,
    permissions=PERMISSIONS,
    decision_types=(ANSWER, HANDOFF),
    jobs=(INGEST_JOB,),
    demo=_demo,
    system_card=Path(__file__).parent / "system_card.yaml",
)
