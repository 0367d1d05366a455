"""The assistant's pages: the public chat (works with JavaScript off), hand-off, and staff pages.

With JavaScript off the chat is a plain form: post, redirect, see the conversation. With it on,
`assistant.js` posts to /ask/stream and shows each sentence as it arrives; the conversation and
records are the same either way.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townhall.core.auth import User
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.jobs import get_run, recent_runs
from townhall.core.permissions import PUBLIC
from townhall.core.web import SessionDep, form_errors, job_queue, requires, templates
from townhall.services.assistant import answers, gaps
from townhall.services.assistant.models import Chunk, Document, Handoff
from townhall.services.assistant.permissions import ASSISTANT_MANAGE
from townhall.services.assistant.runtime import pipeline_for, throttle

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)
Anyone = Annotated[User | None, requires(PUBLIC)]
Manager = Annotated[User, requires(ASSISTANT_MANAGE)]
CONVERSATION = "assistant_conversation"
RATED = "assistant_rated"
UPLOAD_SUFFIXES = {".html", ".htm", ".md", ".markdown", ".pdf", ".docx", ".jsonl"}


def _chat(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    question: str = "",
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "assistant/chat.html",
        {
            "title": "Ask a question",
            "turns": answers.conversation(session, request.session.get(CONVERSATION)),
            "rated": request.session.get(RATED, []),
            "errors": errors or {},
            "error_title": bool(errors),
            "question": question,
            "max_chars": request.app.state.settings.assistant_max_question_chars,
        },
        status_code=status,
    )


@router.get("/ask")
def chat(request: Request, session: SessionDep, _user: Anyone) -> Response:
    return _chat(request, session)


def _ask(request: Request, session: Session, question: str) -> answers.Reply:
    limit = request.app.state.settings.assistant_max_question_chars
    if len(question.strip()) > limit:
        # A form field with a limit says so on the field (the GOV.UK pattern), and keeps the text
        # so it can be shortened; the API and the command line get the pipeline's refusal.
        raise InvalidInput(f"Your question must be {limit} characters or fewer", field="question")
    throttle(request)
    reply = answers.ask(
        session,
        pipeline_for(request),
        question,
        conversation_id=request.session.get(CONVERSATION),
        # The session cookie can outlive its conversation (purged, or another database).
        restart_unknown=True,
    )
    request.session[CONVERSATION] = reply.conversation_id
    return reply


@router.post("/ask")
def ask(
    request: Request,
    session: SessionDep,
    _user: Anyone,
    question: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    try:
        reply = _ask(request, session, question)
    except InvalidInput as exc:
        return _chat(request, session, errors=form_errors(exc), question=question, status=422)
    return RedirectResponse(f"/ask#answer-{reply.decision_id}", status_code=303)


@router.post("/ask/stream")
def ask_stream(
    request: Request,
    session: SessionDep,
    _user: Anyone,
    question: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """The same as posting the form, sent back a line of the answer at a time as JSON lines.

    The records are written before the first line is sent, so a dropped connection loses
    nothing: the answer is on /ask.
    """
    reply = _ask(request, session, question)

    def lines() -> Iterator[str]:
        yield json.dumps({"type": "start", "decision_id": reply.decision_id}) + "\n"
        for line in reply.answer.split("\n"):
            if line.strip():
                yield json.dumps({"type": "text", "text": line}) + "\n"
        yield json.dumps({"type": "done"} | reply.as_dict()) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/ask/rate")
def rate(
    request: Request,
    session: SessionDep,
    _user: Anyone,
    decision_id: Annotated[str, Form(max_length=36)] = "",
    helpful: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    if helpful not in {"yes", "no"}:
        raise InvalidInput("Choose whether the answer was helpful.")
    rated = request.session.get(RATED, [])
    mine = answers.turns(session, request.session.get(CONVERSATION) or "")
    if decision_id not in {t.decision_id for t in mine}:
        raise NotFound("You can only rate answers in your own conversation.")
    if decision_id not in rated:  # a second click (or a resent form) is not a second rating
        answers.rate(session, decision_id, helpful=helpful == "yes")
        request.session[RATED] = [*rated[-20:], decision_id]
    return RedirectResponse(f"/ask#answer-{decision_id}", status_code=303)


@router.post("/ask/new")
def new_conversation(request: Request, _user: Anyone) -> Response:
    request.session.pop(CONVERSATION, None)
    return RedirectResponse("/ask", status_code=303)


def _person_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    question: str = "",
    contact: str = "",
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "assistant/person.html",
        {
            "title": "Ask a person",
            "errors": errors or {},
            "error_title": bool(errors),
            "question": question,
            "contact": contact,
            "max_chars": request.app.state.settings.assistant_max_question_chars,
            "max_contact": answers.MAX_CONTACT_CHARS,
        },
        status_code=status,
    )


@router.get("/ask/person")
def person_form(request: Request, session: SessionDep, _user: Anyone) -> Response:
    turns = answers.turns(session, request.session.get(CONVERSATION) or "")
    last = turns[-1].question if turns else ""
    return _person_page(request, question=last)


@router.post("/ask/person")
def person_send(
    request: Request,
    session: SessionDep,
    _user: Anyone,
    question: Annotated[str, Form(max_length=100_000)] = "",
    contact: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    settings = request.app.state.settings
    try:
        throttle(request)
        made = answers.hand_off(
            session,
            pipeline_for(request),
            question,
            default_team=settings.assistant_default_team,
            conversation_id=request.session.get(CONVERSATION),
            contact=contact,
        )
    except InvalidInput as exc:
        errors = form_errors(exc) or {"question": exc.message}
        return _person_page(request, errors=errors, question=question, contact=contact, status=422)
    return templates.TemplateResponse(
        request,
        "assistant/person_sent.html",
        {
            "title": "Your question has been sent",
            "reference": answers.reference(made),
            "team": answers.team_name(session, made.team),
            "contact": bool(made.contact),
        },
    )


# --- staff ------------------------------------------------------------------------------------


def _staff_page(
    request: Request,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    url: str = "",
    status: int = 200,
) -> Response:
    locales = dict(
        session.execute(select(Document.locale, func.count()).group_by(Document.locale)).all()
    )
    handoffs = session.execute(
        select(Handoff.team, func.count())
        .where(Handoff.status == "open")
        .group_by(Handoff.team)
        .order_by(Handoff.team)
    ).all()
    return templates.TemplateResponse(
        request,
        "assistant/staff.html",
        {
            "title": "Citizen assistant",
            "documents": session.scalar(select(func.count(Document.id))) or 0,
            "chunks": session.scalar(select(func.count(Chunk.id))) or 0,
            "locales": locales,
            "handoffs": handoffs,
            "runs": recent_runs(session, job="assistant.ingest", limit=10),
            "errors": errors or {},
            "error_title": bool(errors),
            "url": url,
        },
        status_code=status,
    )


@router.get("/assistant")
def staff_home(request: Request, session: SessionDep, _user: Manager) -> Response:
    return _staff_page(request, session)


@router.get("/assistant/gaps")
def gaps_page(request: Request, session: SessionDep, _user: Manager) -> Response:
    found = gaps.gaps(session, 30)
    return templates.TemplateResponse(
        request,
        "assistant/gaps.html",
        {"title": "Content gaps", "topics": gaps.topics(found), "total": len(found)},
    )


def _sources(file: UploadFile | None, url: str, uploads: Path) -> list[str]:
    """What to ingest: the uploaded file, saved under `uploads`, and the web address.

    Everything is checked before the file is written, so a refused form leaves nothing behind.
    """
    url = url.strip()
    name = Path(file.filename).name if file is not None and file.filename else ""
    if name and Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise InvalidInput(
            "The file must be HTML, Markdown, PDF, Word (.docx) or JSON-lines", field="file"
        )
    if url and not url.startswith(("https://", "http://")):
        raise InvalidInput("Enter a web address starting with https://", field="url")
    if not name and not url:
        raise InvalidInput("Choose a file or enter a web address", field="file")
    sources = []
    if file is not None and name:
        folder = uploads / secrets.token_hex(8)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("wb") as out:
            shutil.copyfileobj(file.file, out)
        sources.append(str(folder / name))
    if url:
        sources.append(url)
    return sources


@router.post("/assistant/ingest")
def ingest_upload(
    request: Request,
    session: SessionDep,
    user: Manager,
    file: Annotated[UploadFile | None, File()] = None,
    url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    uploads = Path(request.app.state.settings.exports_dir).parent / "uploads"
    try:
        sources = _sources(file, url, uploads)
    except InvalidInput as exc:
        return _staff_page(request, session, errors=form_errors(exc), url=url, status=422)
    run_id = job_queue(request).submit("assistant.ingest", by=user.username, sources=sources)
    return RedirectResponse(f"/assistant/jobs/{run_id}", status_code=303)


@router.get("/assistant/jobs/{run_id}")
def job_page(request: Request, session: SessionDep, _user: Manager, run_id: str) -> Response:
    run = get_run(session, run_id)
    if run.job != "assistant.ingest":
        raise NotFound("There is no ingest with that reference.")
    return templates.TemplateResponse(
        request, "assistant/job.html", {"title": "Adding guidance", "run": run}
    )
