"""Casework: forms and applications, checked, triaged by dated rules and decided by people.

Forms are YAML (schema.py: pages, questions, validation, evidence); eligibility and triage rules
are dated YAML parameters with their policy reference (rules.py, formulas.py) with tests as data
(ruletests.py). Intake (intake.py, channels.py: API, CSV, documents, hand-offs) keeps invalid
answers as drafts; triage is a decision record in the owning team's review queue. Caseworkers
assign, ask for information, decide and review refusals (actions.py) against service level
clocks (sla.py); views.py is what citizens and staff see, extract.py the anonymised extract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from townhall.core.jobs import Job, Progress
from townhall.core.review import register_override_hook
from townhall.core.service import Service
from townhall.services.casework import api, cli, pages
from townhall.services.casework.actions import on_triage_override
from townhall.services.casework.catalogue import TRIAGE
from townhall.services.casework.permissions import CASEWORK_REPORT, PERMISSIONS
from townhall.settings import Settings

register_override_hook(TRIAGE, on_triage_override)


def _handoffs_job(settings: Settings, progress: Progress) -> dict[str, Any]:
    from townhall.core.db import get_engine, transaction
    from townhall.services.casework.catalogue import catalogue
    from townhall.services.casework.channels import import_handoffs

    with transaction(get_engine(settings.database_url, settings.database_echo)) as session:
        made = import_handoffs(session, catalogue(settings), settings)
        progress(len(made), len(made), "hand-offs made into cases")
        return {"cases": [case.reference for case in made]}


def _demo(session: Session, settings: Settings) -> str:
    from townhall.services.casework.demo import load_demo

    return load_demo(session, settings)


HANDOFFS_JOB = Job(
    "casework.handoffs",
    _handoffs_job,
    "Make enquiry cases from questions other services handed to people.",
    schedule="*/10 * * * *",
)

SERVICE = Service(
    name="casework",
    title="Casework",
    description="Forms and applications, triaged by the council's rules into team queues.",
    home_url="/casework",
    home_permission=CASEWORK_REPORT,
    router=api.router,
    pages=pages.router,
    cli=cli.app,
    permissions=PERMISSIONS,
    decision_types=(TRIAGE,),
    jobs=(HANDOFFS_JOB,),
    demo=_demo,
    system_card=Path(__file__).parent / "system_card.yaml",
)
