"""Intake channels beyond a single set of answers: CSV bulk uploads, documents and hand-offs.

A bulk upload is row by row: valid rows are submitted and triaged, invalid rows are kept as
drafts with their errors, and the report says which is which, so nothing in the file is lost.
A document becomes a case with the answers read from it, held as a draft for a caseworker to
confirm unless every answer came from a fillable PDF's named fields; the document itself is kept
as the case's evidence. Questions the citizen assistant handed to people become enquiry cases,
found through the decision records (services never import each other).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core.auth import Team
from townhall.core.decisions import DecisionRecord
from townhall.core.decisions import Status as DecisionStatus
from townhall.core.errors import InvalidInput
from townhall.services.casework import evidence
from townhall.services.casework.catalogue import Catalogue
from townhall.services.casework.documents import Extracted, extract
from townhall.services.casework.intake import Submission, submit
from townhall.services.casework.models import Case
from townhall.services.casework.rules import Fired
from townhall.settings import Settings

MAX_ROWS = 10_000
HANDOFF_SUFFIX = ".handoff"  # the decision type a service records when it hands work to people
ENQUIRY_FORM = "enquiry"


@dataclass
class RowResult:
    row: int  # the line in the file, counting the header as 1
    reference: str | None
    status: str  # submitted, draft or refused
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class BulkReport:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "submitted": self.count("submitted"),
            "drafts": self.count("draft"),
            "refused": self.count("refused"),
            "rows": [row.__dict__ for row in self.rows],
        }


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again.", field="file"
        ) from None


def submit_csv(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    data: bytes | str,
    *,
    form_id: str | None,
    actor: str,
) -> BulkReport:
    """Submit each row of a CSV file whose columns are a form's field names (and `form`, when
    no form is given, so one file can hold several forms)."""
    text = _decode(data)
    if "\x00" in text:
        raise InvalidInput(
            "The file contains NUL characters, so it is not a CSV file.", field="file"
        )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    if not columns:
        raise InvalidInput(
            "The file is empty: it needs a header row of question names.", field="file"
        )
    if form_id is None and "form" not in columns:
        raise InvalidInput("Name the form, or add a 'form' column to the file.", field="form")
    known = {"form"} | {name for form in catalogue.library.forms.values() for name in form.fields}
    if form_id is not None:
        known = {"form"} | set(catalogue.form(form_id).fields)
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise InvalidInput(
            f"These columns are not questions on the form: {', '.join(unknown[:10])}.",
            field="file",
        )
    report = BulkReport()
    try:
        for number, row in enumerate(reader, start=2):
            if number - 1 > MAX_ROWS:
                raise InvalidInput(
                    f"The file has more than {MAX_ROWS:,} rows; split it and upload each part.",
                    field="file",
                )
            answers = {
                key.strip(): value.strip()
                for key, value in row.items()
                if key is not None and isinstance(value, str) and value.strip()
            }
            if None in row:
                report.rows.append(
                    RowResult(
                        number,
                        None,
                        "refused",
                        [{"field": "row", "message": "This row has more cells than the header"}],
                    )
                )
                continue
            if not answers:
                continue
            name = answers.pop("form", None) or form_id
            if form_id is not None and name != form_id:
                name = form_id
            try:
                made = submit(
                    session,
                    catalogue,
                    settings,
                    form_id=str(name),
                    answers=answers,
                    channel="csv",
                    actor=actor,
                    staff=True,
                )
            except InvalidInput as exc:
                report.rows.append(
                    RowResult(
                        number,
                        None,
                        "refused",
                        exc.details or [{"field": "row", "message": exc.message}],
                    )
                )
                continue
            report.rows.append(
                RowResult(
                    number,
                    made.case.reference,
                    "submitted" if made.submitted else "draft",
                    [error.as_dict() for error in made.errors],
                )
            )
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} of the file cannot be read ({exc}).", field="file"
        ) from None
    return report


def submit_document(
    session: Session,
    catalogue: Catalogue,
    settings: Settings,
    *,
    form_id: str,
    data: bytes,
    filename: str,
    actor: str,
) -> tuple[Submission, Extracted]:
    """A case from a document: answers read from it, and the document kept as evidence."""
    form = catalogue.form(form_id)
    evidence.check_upload(data, filename, settings.casework_max_upload_bytes)
    found = extract(form, data)
    made = submit(
        session,
        catalogue,
        settings,
        form_id=form.id,
        answers=found.answers,
        channel="document",
        actor=actor,
        staff=True,
        extraction=found.fields,
        hold=found.lowest_confidence < 1.0,
    )
    evidence.store(
        session,
        catalogue,
        settings,
        made.case,
        kind="application_form",
        filename=filename or f"{form.id}-form",
        data=data,
        actor=actor,
    )
    return made, found


def import_handoffs(
    session: Session, catalogue: Catalogue, settings: Settings, *, limit: int = 200
) -> list[Case]:
    """Make an enquiry case from each hand-off decision not yet made into one."""
    if ENQUIRY_FORM not in catalogue.library.forms:
        return []
    taken = select(Case.source_decision_id).where(Case.source_decision_id.is_not(None))
    pending = session.scalars(
        select(DecisionRecord)
        .where(
            DecisionRecord.decision_type.like(f"%{HANDOFF_SUFFIX}"),
            DecisionRecord.status == DecisionStatus.PROPOSED.value,
            DecisionRecord.id.not_in(taken),
        )
        .order_by(DecisionRecord.created_at)
        .limit(limit)
    ).all()
    made = []
    for decision in pending:
        output = decision.output or {}
        question = str(output.get("question") or "").strip()
        team = session.get(Team, decision.team_id) if decision.team_id else None
        why = (decision.explanation or {}).get("team_from") or "the service's routing"
        reason = str(output.get("reason") or "could not answer")[:200]
        result = submit(
            session,
            catalogue,
            settings,
            form_id=ENQUIRY_FORM,
            answers={"question": question},
            channel="assistant",
            actor=f"job:{decision.service}-handoffs",
            staff=True,
            source_decision_id=decision.id,
            team=team.slug if team else None,
            extra_reasons=[
                Fired(
                    "handed-off",
                    f"Passed on by the {decision.service} service ({reason}); placed with "
                    f"this team by {why}.",
                )
            ],
        )
        made.append(result.case)
    return made
