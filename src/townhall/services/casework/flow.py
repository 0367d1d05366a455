"""Walking a form one question page at a time, as GOV.UK question pages do.

Everything a page handler needs, as plain data: which pages apply given the answers so far, the
page after this one (or the check-answers page), the errors for one page, and the rows of the
check-answers summary list. The handlers themselves then only parse the request and render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from townhall.services.casework.schema import EvidenceSpec, FieldSpec, FormSpec, PageSpec
from townhall.services.casework.validation import (
    FieldError,
    applies,
    long_date,
    missing,
    validate,
)


def visible_pages(form: FormSpec, answers: Mapping[str, Any]) -> list[PageSpec]:
    """Pages whose questions are asked, given the typed answers so far."""
    shown = []
    for page in form.pages:
        if page.condition and not page.condition.holds(answers):
            continue
        if any(applies(spec, form, answers) for spec in page.fields):
            shown.append(page)
    return shown


def page(form: FormSpec, page_id: str) -> PageSpec | None:
    return next((p for p in form.pages if p.id == page_id), None)


def next_page(form: FormSpec, answers: Mapping[str, Any], after: str | None) -> PageSpec | None:
    """The first page after `after` (None: the start) that applies; None: check answers next."""
    pages = visible_pages(form, answers)
    if after is None:
        return pages[0] if pages else None
    ids = [p.id for p in form.pages]
    position = ids.index(after) if after in ids else -1
    return next((p for p in pages if ids.index(p.id) > position), None)


def first_unanswered(form: FormSpec, answers: Mapping[str, Any]) -> PageSpec | None:
    """The first page with a required question not yet answered (to resume a draft)."""
    for shown in visible_pages(form, answers):
        for spec in shown.fields:
            if spec.required and applies(spec, form, answers) and missing(answers.get(spec.name)):
                return shown
    return None


def page_errors(
    form: FormSpec, page_id: str, answers: Mapping[str, Any], today: dt.date | None = None
) -> list[FieldError]:
    """Errors on one page's questions only (the page being submitted)."""
    shown = page(form, page_id)
    if shown is None:
        return [FieldError("page", "There is no such page in this form")]
    names = {spec.name for spec in shown.fields}
    result = validate(form, answers, today=today, only=names)
    return [error for error in result.errors if error.field in names]


def display(spec: FieldSpec, value: Any) -> str:
    """An answer as the check-answers page and the caseworker read it."""
    if value is None or value == "" or value == []:
        return "Not answered"
    if spec.type == "yes_no":
        return "Yes" if value else "No"
    if spec.type == "date":
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return long_date(day)
    if spec.type == "money":
        return f"£{float(value):,.2f}"
    if spec.type == "choice":
        return spec.choice_label(str(value))
    if spec.type == "choices":
        return ", ".join(spec.choice_label(str(v)) for v in value)
    if spec.type == "number" and isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class SummaryRow:
    page: str  # the page to go back to, to change the answer
    field: str
    label: str
    value: str


def summary(form: FormSpec, answers: Mapping[str, Any]) -> list[SummaryRow]:
    """The check-answers summary list: every question asked, in order, with its answer."""
    rows = []
    for shown in visible_pages(form, answers):
        for spec in shown.fields:
            if applies(spec, form, answers):
                rows.append(
                    SummaryRow(
                        shown.id, spec.name, spec.short_label, display(spec, answers.get(spec.name))
                    )
                )
    return rows


def evidence_needed(form: FormSpec, answers: Mapping[str, Any]) -> list[EvidenceSpec]:
    """Evidence the applicant must send, given their answers."""
    return [
        item
        for item in form.evidence
        if item.required and (item.condition is None or item.condition.holds(answers))
    ]
