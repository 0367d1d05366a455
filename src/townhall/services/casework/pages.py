"""The citizen's casework pages: apply one question at a time, send evidence, check progress.

GOV.UK question pages with JavaScript off: every page is a plain form that posts and redirects.
Each answer is saved at once in a server-side draft case (intake keeps it even when it is wrong),
so nothing is lost between pages; the browser holds only the draft's reference and resume token
in its session. The status page is in status_pages.py, the caseworkers' pages in staff_pages.py.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from townhall.core.auth import User
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.permissions import PUBLIC
from townhall.core.web import SessionDep, SettingsDep, form_errors, requires, templates
from townhall.services.casework import evidence, flow, intake, staff_pages, status_pages, views
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.models import Case, Evidence, Status
from townhall.services.casework.schema import EvidenceSpec, FormSpec, PageSpec
from townhall.services.casework.validation import applies, validate
from townhall.settings import Settings

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)
Anyone = Annotated[User | None, requires(PUBLIC)]
DRAFTS = "casework_drafts"  # form id -> {"reference", "token"} of the draft being filled in
SENT = "casework_sent"  # form id -> the reference just sent, for the confirmation page
CHECK = "check-answers"
DateParts = ("day", "month", "year")


async def posted_form(request: Request) -> FormData:
    # Read here, so the handler can stay synchronous (its database work runs in the thread
    # pool); the CSRF check has already parsed the form, so this is the same object.
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]
# Multipart parts are read whole before the handler runs, so the form limit is the body limit.
MULTIPART_OVERHEAD = 16 * 1024


def _form(settings: Settings, form_id: str) -> FormSpec:
    return catalogue(settings).form(form_id)


def _today() -> dt.date:
    return dt.date.today()


def _draft(request: Request, session: Session, form: FormSpec) -> Case | None:
    """The draft this browser is filling in, if it is still a draft and the token matches."""
    held = request.session.get(DRAFTS, {}).get(form.id)
    if not isinstance(held, dict):
        return None
    case = session.scalar(select(Case).where(Case.reference == str(held.get("reference"))))
    if case is None or case.form != form.id or case.status != Status.DRAFT.value:
        return None
    expected = case.resume_token_hash or ""
    if not hmac.compare_digest(expected, intake.token_digest(str(held.get("token", "")))):
        return None
    return case


def _raw(case: Case | None) -> dict[str, Any]:
    return dict(case.answers) if case is not None else {}


def _typed(form: FormSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """The answers that pass, typed: what decides which pages and evidence apply."""
    return validate(form, raw, today=_today()).answers


def _evidence_items(form: FormSpec, typed: dict[str, Any]) -> list[EvidenceSpec]:
    """Every evidence item the answers call for, required or optional, in the form's order."""
    return [e for e in form.evidence if e.condition is None or e.condition.holds(typed)]


def _sent_files(session: Session, case: Case | None) -> dict[str, list[Evidence]]:
    files: dict[str, list[Evidence]] = {}
    if case is None:
        return files
    query = select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)
    for item in session.scalars(query):
        files.setdefault(item.kind, []).append(item)
    return files


def _after_questions(form: FormSpec, typed: dict[str, Any], kind: str | None = None) -> str:
    """The evidence page after `kind` (None: the first), or the check-answers page."""
    kinds = [item.kind for item in _evidence_items(form, typed)]
    following = kinds[kinds.index(kind) + 1 :] if kind in kinds else kinds if kind is None else []
    if following:
        return f"/apply/{form.id}/evidence/{following[0]}"
    return f"/apply/{form.id}/{CHECK}"


def _upload_limit(settings: Settings) -> int:
    return min(settings.casework_max_upload_bytes, settings.max_upload_bytes - MULTIPART_OVERHEAD)


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


# --- the start page and each form's start -----------------------------------------------------


@router.get("/apply")
def apply_start(request: Request, settings: SettingsDep, _user: Anyone) -> Response:
    forms = sorted(catalogue(settings).library.forms.values(), key=lambda f: f.title)
    return templates.TemplateResponse(
        request, "casework/start.html", {"title": "Apply, report or ask", "forms": forms}
    )


@router.get("/apply/{form_id}")
def form_start(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Anyone, form_id: str
) -> Response:
    form = _form(settings, form_id)
    draft = _draft(request, session, form)
    typed = _typed(form, _raw(draft))
    first = flow.next_page(form, typed, None)
    resume = flow.first_unanswered(form, typed) if draft is not None else None
    return templates.TemplateResponse(
        request,
        "casework/form_start.html",
        {
            "title": form.title,
            "form": form,
            "first": first.id if first else CHECK,
            "resume": resume.id if resume else (CHECK if draft is not None else None),
        },
    )


# --- evidence ---------------------------------------------------------------------------------


def _evidence_page(
    request: Request,
    session: Session,
    settings: Settings,
    form: FormSpec,
    item: EvidenceSpec,
    *,
    errors: dict[str, str] | None = None,
    changing: bool = False,
    status: int = 200,
) -> Response:
    draft = _draft(request, session, form)
    typed = _typed(form, _raw(draft))
    kinds = [e.kind for e in _evidence_items(form, typed)]
    earlier = kinds[: kinds.index(item.kind)] if item.kind in kinds else []
    last_page = flow.visible_pages(form, typed)
    back = (
        f"/apply/{form.id}/{CHECK}"
        if changing
        else f"/apply/{form.id}/evidence/{earlier[-1]}"
        if earlier
        else f"/apply/{form.id}/{last_page[-1].id}"
        if last_page
        else f"/apply/{form.id}"
    )
    return templates.TemplateResponse(
        request,
        "casework/evidence.html",
        {
            "title": item.label,
            "form": form,
            "item": item,
            "sent": _sent_files(session, draft).get(item.kind, []),
            "limit": _size(_upload_limit(settings)),
            "accepted": evidence.ACCEPTED,
            "errors": errors or {},
            "error_title": bool(errors),
            "changing": changing,
            "back": back,
        },
        status_code=status,
    )


def _evidence_item(form: FormSpec, kind: str) -> EvidenceSpec:
    item = next((e for e in form.evidence if e.kind == kind), None)
    if item is None:
        raise NotFound(f"{form.title} asks for no evidence called {kind[:40]!r}.")
    return item


@router.get("/apply/{form_id}/evidence/{kind}")
def evidence_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    form_id: str,
    kind: str,
    change: bool = False,
) -> Response:
    form = _form(settings, form_id)
    return _evidence_page(
        request, session, settings, form, _evidence_item(form, kind), changing=change
    )


@router.post("/apply/{form_id}/evidence/{kind}")
def evidence_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    form_id: str,
    kind: str,
    file: Annotated[UploadFile | None, File()] = None,
    change: bool = False,
) -> Response:
    form = _form(settings, form_id)
    item = _evidence_item(form, kind)
    draft = _draft(request, session, form)
    if draft is None:
        # Files belong to a draft, which the first answered question makes.
        return RedirectResponse(f"/apply/{form.id}", status_code=303)
    chosen = file is not None and bool(file.filename)
    if chosen and file is not None:
        # Read one byte past the limit: enough to refuse a larger file without holding it all.
        data = file.file.read(settings.casework_max_upload_bytes + 1)
        try:
            evidence.store(
                session,
                catalogue(settings),
                settings,
                draft,
                kind=item.kind,
                filename=file.filename or "",
                data=data,
                actor="citizen",
            )
        except InvalidInput as exc:
            errors = {"file": exc.message.rstrip(".")}
            return _evidence_page(
                request, session, settings, form, item, errors=errors, changing=change, status=422
            )
    elif item.required and not _sent_files(session, draft).get(item.kind):
        errors = {"file": f"Select {item.label[:1].lower()}{item.label[1:]} to upload"}
        return _evidence_page(
            request, session, settings, form, item, errors=errors, changing=change, status=422
        )
    typed = _typed(form, _raw(draft))
    target = f"/apply/{form.id}/{CHECK}" if change else _after_questions(form, typed, item.kind)
    return RedirectResponse(target, status_code=303)


# --- check answers, send, confirmation --------------------------------------------------------


def _check_page(
    request: Request,
    session: Session,
    form: FormSpec,
    draft: Case,
    *,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    typed = _typed(form, _raw(draft))
    files = _sent_files(session, draft)
    return templates.TemplateResponse(
        request,
        "casework/check_answers.html",
        {
            "title": "Check your answers before sending your application",
            "form": form,
            "rows": flow.summary(form, typed),
            "evidence": [(item, files.get(item.kind, [])) for item in _evidence_items(form, typed)],
            "problems": errors or [],
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/apply/{form_id}/check-answers")
def check_answers(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Anyone, form_id: str
) -> Response:
    form = _form(settings, form_id)
    draft = _draft(request, session, form)
    if draft is None:
        return RedirectResponse(f"/apply/{form.id}", status_code=303)
    return _check_page(request, session, form, draft)


@router.post("/apply/{form_id}/check-answers")
def send(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Anyone, form_id: str
) -> Response:
    form = _form(settings, form_id)
    draft = _draft(request, session, form)
    if draft is None:
        return RedirectResponse(f"/apply/{form.id}", status_code=303)
    typed = _typed(form, _raw(draft))
    files = _sent_files(session, draft)
    missing = [
        (
            f"/apply/{form.id}/evidence/{item.kind}?change=1",
            f"Upload {item.label[:1].lower()}{item.label[1:]}",
        )
        for item in flow.evidence_needed(form, typed)
        if not files.get(item.kind)
    ]
    if missing:
        return _check_page(request, session, form, draft, errors=missing, status=422)
    made = intake.submit(
        session,
        catalogue(settings),
        settings,
        form_id=form.id,
        answers=_raw(draft),
        channel="web",
        actor="citizen",
        draft=draft.reference,
        resume_token=request.session[DRAFTS][form.id]["token"],
    )
    if made.errors:
        problems = [
            (f"/apply/{form.id}/{form.page_of(e.field).id}?change=1#{e.field}", e.message)
            if e.field in form.fields
            else (f"/apply/{form.id}", e.message)
            for e in made.errors
        ]
        return _check_page(request, session, form, made.case, errors=problems, status=422)
    drafts = dict(request.session.get(DRAFTS, {}))
    drafts.pop(form.id, None)
    request.session[DRAFTS] = drafts
    request.session[SENT] = {**request.session.get(SENT, {}), form.id: made.case.reference}
    return RedirectResponse(f"/apply/{form.id}/confirmation", status_code=303)


@router.get("/apply/{form_id}/confirmation")
def confirmation(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Anyone, form_id: str
) -> Response:
    form = _form(settings, form_id)
    reference = request.session.get(SENT, {}).get(form.id)
    if not reference:
        return RedirectResponse(f"/apply/{form.id}", status_code=303)
    view = views.citizen_status(session, catalogue(settings), reference)
    return templates.TemplateResponse(
        request,
        "casework/confirmation.html",
        {"title": f"{form.title}: sent", "form": form, "view": status_pages.readable(view)},
    )


# --- question pages ---------------------------------------------------------------------------


def _page_answers(page: PageSpec, data: FormData) -> dict[str, Any]:
    """The page's answers as sent: text as typed, dates as their three parts, lists of boxes."""
    answers: dict[str, Any] = {}
    for spec in page.fields:
        if spec.type == "date":
            answers[spec.name] = {
                part: str(data.get(f"{spec.name}-{part}", "")).strip() for part in DateParts
            }
        elif spec.type == "choices":
            answers[spec.name] = [str(v) for v in data.getlist(spec.name)]
        else:
            value = data.get(spec.name, "")
            answers[spec.name] = value if isinstance(value, str) else ""
    return answers


def _previous(form: FormSpec, typed: dict[str, Any], page_id: str) -> str:
    pages = [p.id for p in flow.visible_pages(form, typed)]
    earlier = pages[: pages.index(page_id)] if page_id in pages else []
    return f"/apply/{form.id}/{earlier[-1]}" if earlier else f"/apply/{form.id}"


def _question(
    request: Request,
    form: FormSpec,
    page: PageSpec,
    raw: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    changing: bool = False,
    status: int = 200,
) -> Response:
    typed = _typed(form, raw)
    fields = [spec for spec in page.fields if applies(spec, form, typed)] or list(page.fields)
    return templates.TemplateResponse(
        request,
        "casework/question.html",
        {
            "title": page.title,
            "form": form,
            "page": page,
            "fields": fields,
            "answers": raw,
            "errors": errors or {},
            "error_title": bool(errors),
            # The error summary links to the first box of a date, the others to the field itself.
            "anchors": {s.name: f"{s.name}-day" if s.type == "date" else s.name for s in fields},
            "changing": changing,
            "back": f"/apply/{form.id}/{CHECK}" if changing else _previous(form, typed, page.id),
        },
        status_code=status,
    )


@router.get("/apply/{form_id}/{page_id}")
def question(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    form_id: str,
    page_id: str,
    change: bool = False,
) -> Response:
    form = _form(settings, form_id)
    page = flow.page(form, page_id)
    if page is None:
        raise NotFound(f"{form.title} has no page called {page_id[:40]!r}.")
    raw = _raw(_draft(request, session, form))
    typed = _typed(form, raw)
    if page.id not in {p.id for p in flow.visible_pages(form, typed)}:
        # An earlier answer means this question is not asked (someone followed an old link).
        following = flow.next_page(form, typed, page.id)
        target = f"/apply/{form.id}/{following.id}" if following else _after_questions(form, typed)
        return RedirectResponse(target, status_code=303)
    return _question(request, form, page, raw, changing=change)


@router.post("/apply/{form_id}/{page_id}")
def answer(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Anyone,
    data: PostedForm,
    form_id: str,
    page_id: str,
    change: bool = False,
) -> Response:
    form = _form(settings, form_id)
    page = flow.page(form, page_id)
    if page is None:
        raise NotFound(f"{form.title} has no page called {page_id[:40]!r}.")
    draft = _draft(request, session, form)
    raw = {**_raw(draft), **_page_answers(page, data)}
    try:
        made = intake.submit(
            session,
            catalogue(settings),
            settings,
            form_id=form.id,
            answers=raw,
            channel="web",
            actor="citizen",
            draft=draft.reference if draft is not None else None,
            resume_token=request.session.get(DRAFTS, {}).get(form.id, {}).get("token"),
            hold=True,  # sent only from the check-answers page
        )
    except InvalidInput as exc:
        return _question(request, form, page, raw, errors=form_errors(exc), status=422)
    if made.resume_token:
        request.session[DRAFTS] = {
            **request.session.get(DRAFTS, {}),
            form.id: {"reference": made.case.reference, "token": made.resume_token},
        }
    problems = flow.page_errors(form, page.id, raw, today=_today())
    if problems:
        errors = {error.field: error.message for error in problems}
        return _question(request, form, page, raw, errors=errors, changing=change, status=422)
    typed = _typed(form, raw)
    if change:
        # A changed answer can open a question not yet asked: ask it before checking again.
        gap = flow.first_unanswered(form, typed)
        target = f"/apply/{form.id}/{gap.id}?change=1" if gap else f"/apply/{form.id}/{CHECK}"
        return RedirectResponse(target, status_code=303)
    following = flow.next_page(form, typed, page.id)
    target = f"/apply/{form.id}/{following.id}" if following else _after_questions(form, typed)
    return RedirectResponse(target, status_code=303)


router.include_router(status_pages.router)
router.include_router(staff_pages.router)
