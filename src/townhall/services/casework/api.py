"""The casework JSON API: forms, submissions and status for citizens; queues and actions for staff.

Citizens need no account. A submission returns its reference; invalid answers are kept as a
draft and the 422 says so (with a token to correct it). Status by reference shows progress to
anyone; reasons and requests for information need the postcode or email address given on the
form. Files (evidence, documents, CSV) are sent as the raw request body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from townhall.core.api import json_only
from townhall.core.auth import User
from townhall.core.errors import NotFound
from townhall.core.permissions import PUBLIC
from townhall.core.responses import error_body
from townhall.core.schemas import StrictInput
from townhall.core.web import SessionDep, SettingsDep, requires
from townhall.services.casework import actions, channels, evidence, flow, views
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.extract import anonymised_extract, to_csv
from townhall.services.casework.intake import Submission, find_case, submit
from townhall.services.casework.models import Evidence
from townhall.services.casework.permissions import CASEWORK_EXPORT, CASEWORK_REPORT, CASEWORK_WORK
from townhall.services.casework.validation import from_json

router = APIRouter(prefix="/casework", tags=["casework"])
json_api = APIRouter(dependencies=[Depends(json_only)])
files_api = APIRouter()  # bodies that are files (or none), not JSON

Anyone = Annotated[User | None, requires(PUBLIC)]
Worker = Annotated[User, requires(CASEWORK_WORK)]
Reporter = Annotated[User, requires(CASEWORK_REPORT)]
Exporter = Annotated[User, requires(CASEWORK_EXPORT)]
Reference = Annotated[str, Field(min_length=4, max_length=20, pattern=r"^[A-Za-z]{2,3}-\d{1,9}$")]
Verifier = Annotated[str, Field(min_length=1, max_length=320)]
LongText = Annotated[str, Field(min_length=1, max_length=5000)]


def _body(content_type: str, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


async def raw_body(request: Request) -> bytes:
    # Read here, so the handler itself can stay synchronous (its database work then runs in the
    # thread pool, not on the event loop); the body size limit has already applied.
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


class FormSummary(BaseModel):
    id: str
    title: str
    description: str
    version: str
    reference_prefix: str


class SubmissionCreate(StrictInput):
    answers: dict[str, Any] = Field(max_length=200)
    # To correct a draft: its reference and the token given when it was kept.
    draft: Reference | None = None
    resume_token: str | None = Field(default=None, max_length=64)


class SubmissionRead(BaseModel):
    reference: str
    status: str
    reply_by: str | None
    evidence_needed: list[str]


class VerifierInput(StrictInput):
    verifier: Verifier  # the postcode or email address given on the form


class ReplyInput(StrictInput):
    verifier: Verifier
    message: LongText


class ReviewInput(StrictInput):
    verifier: Verifier
    reason: LongText


class StaffReply(StrictInput):
    message: LongText


class CitizenStatus(BaseModel):
    reference: str
    form: str
    status: str
    submitted_on: str | None
    reply_by: str | None
    outcome: str | None
    decided_on: str | None
    review_rights: str | None
    verified: bool
    decision_reason: str | None = None
    information_requested: str | None = None
    evidence_outstanding: list[str] | None = None
    review_case: str | None = None
    history: list[dict[str, Any]] | None = None


class ReviewRead(BaseModel):
    reference: str
    review_case: str


class AssignInput(StrictInput):
    assignee: str | None = Field(default=None, max_length=64)


class DecideInput(StrictInput):
    outcome: str = Field(min_length=1, max_length=16)
    reason: LongText


class PriorityInput(StrictInput):
    priority: str = Field(min_length=1, max_length=16)
    reason: LongText


class ConfirmInput(StrictInput):
    corrections: dict[str, Any] = Field(default_factory=dict, max_length=200)


class CaseBrief(BaseModel):
    reference: str
    status: str
    priority: str | None
    team: str | None = None


class EvidenceRead(BaseModel):
    id: int
    kind: str
    filename: str
    media_type: str
    size: int
    sha256: str


class DocumentRead(BaseModel):
    reference: str
    status: str
    method: str
    pages: int
    seconds: float
    fields: dict[str, Any]
    errors: list[dict[str, str]]


class QueuePage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _draft_response(made: Submission) -> JSONResponse:
    """A 422 that still commits: the answers are kept as a draft, and the reply says how to
    send them again."""
    details: list[Any] = [error.as_dict() for error in made.errors]
    details.append(
        {
            "field": "draft",
            "message": f"Your answers are saved as draft {made.case.reference}. Correct them "
            "and send them again with this draft reference and resume_token.",
            "draft": made.case.reference,
            "resume_token": made.resume_token,
        }
    )
    first = made.errors[0].message if made.errors else "Some answers are not valid"
    return JSONResponse(
        error_body(
            422,
            "invalid_input",
            f"{first}. {len(made.errors)} answer(s) need correcting; "
            f"nothing is lost: draft {made.case.reference} keeps them.",
            details,
        ),
        status_code=422,
    )


@json_api.get("/forms", response_model=list[FormSummary])
def list_forms(settings: SettingsDep, _user: Anyone) -> list[FormSummary]:
    """The forms this council takes."""
    return [
        FormSummary(
            id=form.id,
            title=form.title,
            description=form.description,
            version=form.version,
            reference_prefix=form.reference_prefix,
        )
        for form in catalogue(settings).library.forms.values()
    ]


@json_api.get("/forms/{form_id}", response_model=dict[str, Any])
def get_form(form_id: str, settings: SettingsDep, _user: Anyone) -> dict[str, Any]:
    """A form's full definition: pages, questions, validation and evidence."""
    return catalogue(settings).form(form_id).model_dump(mode="json")


@json_api.post(
    "/forms/{form_id}/submissions",
    response_model=SubmissionRead,
    status_code=201,
    responses={422: {"description": "Not valid: kept as a draft (see the `draft` detail)"}},
)
def create_submission(
    form_id: str, body: SubmissionCreate, session: SessionDep, settings: SettingsDep, _user: Anyone
) -> Any:
    """Send a form's answers. Valid answers are submitted and triaged (201, with the reference);
    invalid ones are kept as a draft (422 naming each wrong answer, and the draft's reference and
    resume token for sending corrected answers)."""
    made = submit(
        session,
        catalogue(settings),
        settings,
        form_id=form_id,
        answers=body.answers,
        channel="api",
        actor="citizen",
        draft=body.draft,
        resume_token=body.resume_token,
    )
    if made.errors:
        return _draft_response(made)
    return _read(settings, made)


def _read(settings: Any, made: Submission) -> SubmissionRead:
    form = catalogue(settings).form(made.case.form)
    typed = from_json(form, made.case.answers)
    return SubmissionRead(
        reference=made.case.reference,
        status=made.case.status,
        reply_by=made.case.sla_due_at.date().isoformat() if made.case.sla_due_at else None,
        evidence_needed=[item.label for item in flow.evidence_needed(form, typed)],
    )


@json_api.get("/status/{reference}", response_model=CitizenStatus)
def status(
    reference: Reference, session: SessionDep, settings: SettingsDep, _user: Anyone
) -> CitizenStatus:
    """A case's progress by its reference (no personal details)."""
    return CitizenStatus.model_validate(
        views.citizen_status(session, catalogue(settings), reference)
    )


@json_api.post("/status/{reference}", response_model=CitizenStatus)
def verified_status(
    reference: Reference,
    body: VerifierInput,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
) -> CitizenStatus:
    """A case's progress with its reasons and requests, for the postcode or email address
    given on the form."""
    cat = catalogue(settings)
    actions.citizen_case(cat, session, reference, body.verifier)
    return CitizenStatus.model_validate(
        views.citizen_status(session, cat, reference, verified=True)
    )


@json_api.post("/status/{reference}/reply", response_model=CitizenStatus)
def citizen_reply(
    reference: Reference,
    body: ReplyInput,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
) -> CitizenStatus:
    """Answer a request for more information."""
    cat = catalogue(settings)
    actions.reply(session, cat, reference, message=body.message, verifier=body.verifier)
    return CitizenStatus.model_validate(
        views.citizen_status(session, cat, reference, verified=True)
    )


@json_api.post("/status/{reference}/review", response_model=ReviewRead, status_code=201)
def ask_for_review(
    reference: Reference,
    body: ReviewInput,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
) -> ReviewRead:
    """Ask for a refusal to be looked at again: a new, linked case, decided by someone else."""
    made = actions.appeal(
        session,
        catalogue(settings),
        settings,
        reference,
        reason=body.reason,
        verifier=body.verifier,
    )
    return ReviewRead(reference=reference.upper(), review_case=made.case.reference)


@files_api.post(
    "/status/{reference}/evidence",
    response_model=EvidenceRead,
    status_code=201,
    openapi_extra=_body("application/octet-stream", "The file: a PDF, JPG, PNG or Word document"),
)
def citizen_evidence(
    reference: Reference,
    data: RawBody,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    kind: Annotated[str, Query(min_length=1, max_length=64)],
    x_verifier: Annotated[str, Header(min_length=1, max_length=320)],
    filename: Annotated[str, Query(max_length=255)] = "",
) -> EvidenceRead:
    """Send evidence for a case: the body is the file; the X-Verifier header is the postcode or
    email address given on the form."""
    cat = catalogue(settings)
    case = actions.citizen_case(cat, session, reference, x_verifier)
    item = evidence.store(
        session, cat, settings, case, kind=kind, filename=filename, data=data, actor="citizen"
    )
    return EvidenceRead.model_validate(item, from_attributes=True)


@json_api.get("/queue", response_model=QueuePage)
def work_queue(
    session: SessionDep,
    user: Worker,
    team: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=24)] = None,
    form: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> QueuePage:
    """Open cases of your teams, most urgent first (priority, then service level due)."""
    return QueuePage.model_validate(
        views.queue(session, user, team=team, status=status_, form=form, limit=limit, offset=offset)
    )


@json_api.get("/cases/{reference}", response_model=dict[str, Any])
def case(
    reference: Reference, session: SessionDep, settings: SettingsDep, user: Worker
) -> dict[str, Any]:
    """A case: answers, the rules' proposal and reasons, evidence, history and its clock."""
    return views.case_detail(session, catalogue(settings), user, reference)


def _brief(session: Any, reference: str) -> CaseBrief:
    found = find_case(session, reference)
    return CaseBrief(reference=found.reference, status=found.status, priority=found.priority)


@json_api.post("/cases/{reference}/assign", response_model=CaseBrief)
def assign(reference: Reference, body: AssignInput, session: SessionDep, user: Worker) -> CaseBrief:
    """Assign the case to yourself, or to a member of its team."""
    actions.assign(session, user, reference, assignee=body.assignee)
    return _brief(session, reference)


@json_api.post("/cases/{reference}/request-information", response_model=CaseBrief)
def request_information(
    reference: Reference, body: StaffReply, session: SessionDep, user: Worker
) -> CaseBrief:
    """Ask the citizen for more information; the service level clock stops until they reply."""
    actions.request_information(session, user, reference, message=body.message)
    return _brief(session, reference)


@json_api.post("/cases/{reference}/information-received", response_model=CaseBrief)
def information_received(
    reference: Reference, body: StaffReply, session: SessionDep, settings: SettingsDep, user: Worker
) -> CaseBrief:
    """Record information the citizen gave another way (by phone, by post)."""
    actions.reply(session, catalogue(settings), reference, message=body.message, user=user)
    return _brief(session, reference)


@json_api.post("/cases/{reference}/decide", response_model=CaseBrief)
def decide(reference: Reference, body: DecideInput, session: SessionDep, user: Worker) -> CaseBrief:
    """Approve, refuse or refer, with the reason the citizen reads. Accepts the rules' proposal
    when it matches, overrides it (with this reason) when it does not."""
    actions.decide(session, user, reference, outcome=body.outcome, reason=body.reason)
    return _brief(session, reference)


@json_api.post("/cases/{reference}/priority", response_model=CaseBrief)
def set_priority(
    reference: Reference, body: PriorityInput, session: SessionDep, user: Worker
) -> CaseBrief:
    """Change the case's priority, with a reason."""
    actions.set_priority(session, user, reference, priority=body.priority, reason=body.reason)
    return _brief(session, reference)


@json_api.post("/cases/{reference}/confirm", response_model=CaseBrief)
def confirm(
    reference: Reference,
    body: ConfirmInput,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
) -> Any:
    """Confirm (and correct) answers read from a document; a draft that now passes is submitted."""
    made = actions.confirm_extraction(
        session, catalogue(settings), settings, user, reference, corrections=body.corrections
    )
    if made.errors:
        return _draft_response(made)
    return _brief(session, reference)


@files_api.post(
    "/cases/{reference}/evidence",
    response_model=EvidenceRead,
    status_code=201,
    openapi_extra=_body("application/octet-stream", "The file: a PDF, JPG, PNG or Word document"),
)
def staff_evidence(
    reference: Reference,
    data: RawBody,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    kind: Annotated[str, Query(min_length=1, max_length=64)],
    filename: Annotated[str, Query(max_length=255)] = "",
) -> EvidenceRead:
    """Add evidence to a case (the body is the file)."""
    found = actions.visible_case(session, user, reference)
    item = evidence.store(
        session,
        catalogue(settings),
        settings,
        found,
        kind=kind,
        filename=filename,
        data=data,
        actor=actions.actor_of(user),
    )
    return EvidenceRead.model_validate(item, from_attributes=True)


@json_api.get(
    "/cases/{reference}/evidence/{evidence_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download_evidence(
    reference: Reference,
    evidence_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
) -> Response:
    """A file sent as evidence, as a download (never shown inline)."""
    found = actions.visible_case(session, user, reference)
    item = session.get(Evidence, evidence_id)
    if item is None or item.case_id != found.id:
        raise NotFound("There is no such evidence on this case.")
    return Response(
        evidence.read(settings, item),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{item.filename}"'},
    )


@files_api.post(
    "/forms/{form_id}/bulk",
    response_model=dict[str, Any],
    openapi_extra=_body("text/csv", "CSV: a header row of question names, one row per case"),
)
def bulk(
    form_id: str,
    data: RawBody,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    dry_run: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    """Submit a CSV file of cases: valid rows are submitted and triaged, invalid rows kept as
    drafts; the report gives each row's reference, status and errors. With `dry_run=true` the
    file is only checked: the same report, and nothing is kept."""
    report = channels.submit_csv(
        session, catalogue(settings), settings, data, form_id=form_id, actor=actions.actor_of(user)
    )
    if dry_run:
        session.rollback()
        for row in report.rows:
            row.reference = None
    return {**report.as_dict(), "dry_run": dry_run}


@files_api.post(
    "/forms/{form_id}/documents",
    response_model=DocumentRead,
    status_code=201,
    openapi_extra=_body(
        "application/octet-stream", "A PDF (fillable or text) or a scan (JPG, PNG)"
    ),
)
def document(
    form_id: str,
    data: RawBody,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    filename: Annotated[str, Query(max_length=255)] = "",
) -> DocumentRead:
    """A case from a document: the answers read from it, each with its confidence, held for you
    to confirm unless they came from a fillable PDF's own fields."""
    made, found = channels.submit_document(
        session,
        catalogue(settings),
        settings,
        form_id=form_id,
        data=data,
        filename=filename,
        actor=actions.actor_of(user),
    )
    return DocumentRead(
        reference=made.case.reference,
        status=made.case.status,
        method=found.method,
        pages=found.pages,
        seconds=round(found.seconds, 4),
        fields=found.fields,
        errors=[error.as_dict() for error in made.errors],
    )


@files_api.post("/handoffs/import", response_model=list[CaseBrief])
def import_handoffs(session: SessionDep, settings: SettingsDep, _user: Worker) -> list[CaseBrief]:
    """Make enquiry cases from hand-offs (questions other services passed to people)."""
    made = channels.import_handoffs(session, catalogue(settings), settings)
    return [CaseBrief(reference=c.reference, status=c.status, priority=c.priority) for c in made]


@json_api.get("/dashboard", response_model=dict[str, Any])
def dashboard(session: SessionDep, user: Reporter) -> dict[str, Any]:
    """Open cases, ages, service level breaches and recent decisions per team and form."""
    return views.dashboard(session, user)


@json_api.get(
    "/extract",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The anonymised extract"}},
)
def extract(
    session: SessionDep,
    _user: Exporter,
    k: Annotated[int, Query(ge=2, le=1000)] = 5,
    l: Annotated[int, Query(ge=1, le=10)] = 1,  # noqa: E741 - the standard name
    form: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """An anonymised extract of cases (k-anonymous, optionally l-diverse in outcome), as CSV."""
    made = anonymised_extract(session, k=k, l=l, form=form)
    return Response(
        to_csv(made),
        media_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="casework-extract.csv"',
            "X-Anonymity": f"k={made.k}; l={made.l}; suppressed={made.suppressed_rows}",
        },
    )


router.include_router(json_api)
router.include_router(files_api)
