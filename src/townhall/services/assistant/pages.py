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
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select

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
UPLOAD_SUFFIXES = {".html", ".htm", ".md", ".markdown", ".pdf", ".docx", ".jsonl"}


def _chat(
    request: Request,
    session: Any,
    *,
    errors: dict[str, str] | None = None,
    question: str = "",
    status: int = 200,
) -> Response:
    conversation_id = request.session.get(CONVERSATION)
    turns = answers.turns(session, conversation_id) if conversation_id else []
    records = {t.decision_id: t for t in turns}
    from townhall.core.decisions import DecisionRecord

    cited = {
        d.id: d.output.get("citations", [])
        for d in session.scalars(
            select(DecisionRecord).where(DecisionRecord.id.in_([k for k in records if k]))
        )
    }
    return templates.TemplateResponse(
        request,
        "assistant/chat.html",
        {
            "title": "Ask a question",
            "turns": turns,
            "cited": cited,
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


def _ask(request: Request, session: Any, question: str) -> answers.Reply:
    if not question.strip():
        raise InvalidInput("Enter your question", field="question")
    throttle(request)
    reply = answers.ask(
        session,
        pipeline_for(request),
        question,
        conversation_id=request.session.get(CONVERSATION),
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
    """The same as posting the form, sent back sentence by sentence as JSON lines."""
    reply = _ask(request, session, question)

    def lines() -> Iterator[str]:
        yield json.dumps({"type": "start", "decision_id": reply.decision_id}) + "\n"
        for sentence in reply.answer.split("\n"):
            if sentence.strip():
                yield json.dumps({"type": "text", "text": sentence}) + "\n"
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
    turns = answers.turns(session, request.session.get(CONVERSATION) or "")
    if decision_id not in {t.decision_id for t in turns}:
        raise NotFound("You can only rate answers in your own conversation.")
    answers.rate(session, decision_id, helpful=helpful == "yes")
    request.session.setdefault("assistant_rated", [])
    request.session["assistant_rated"] = [*request.session["assistant_rated"][-20:], decision_id]
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
    from townhall.core.auth import Team

    team = session.scalar(select(Team).where(Team.slug == made.team))
    return templates.TemplateResponse(
        request,
        "assistant/person_sent.html",
        {
            "title": "Your question has been sent",
            "reference": answers.reference(made),
            "team": team.name if team else made.team,
            "contact": bool(made.contact),
        },
    )


# --- staff ------------------------------------------------------------------------------------


@router.get("/assistant")
def staff_home(request: Request, session: SessionDep, _user: Manager) -> Response:
    documents = session.scalar(select(func.count(Document.id))) or 0
    chunks = session.scalar(select(func.count(Chunk.id))) or 0
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
            "documents": documents,
            "chunks": chunks,
            "locales": locales,
            "handoffs": handoffs,
            "runs": recent_runs(session, job="assistant.ingest", limit=10),
            "errors": {},
        },
    )


@router.get("/assistant/gaps")
def gaps_page(request: Request, session: SessionDep, _user: Manager) -> Response:
    found = gaps.gaps(session, 30)
    return templates.TemplateResponse(
        request,
        "assistant/gaps.html",
        {"title": "Content gaps", "topics": gaps.topics(found), "total": len(found)},
    )


@router.post("/assistant/ingest")
async def ingest_upload(
    request: Request,
    session: SessionDep,
    user: Manager,
    file: Annotated[UploadFile | None, File()] = None,
    url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    settings = request.app.state.settings
    sources: list[str] = []
    if file is not None and file.filename:
        name = Path(file.filename).name
        if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            raise InvalidInput(
                "The file must be HTML, Markdown, PDF, Word (.docx) or JSON-lines.", field="file"
            )
        folder = Path(settings.exports_dir).parent / "uploads" / secrets.token_hex(8)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("wb") as out:
            shutil.copyfileobj(file.file, out)
        sources.append(str(folder / name))
    if url.strip():
        if not url.startswith(("https://", "http://")):
            raise InvalidInput(
                "Enter a web address starting with https://",
                details=[{"field": "url", "message": "Enter a web address starting with https://"}],
            )
        sources.append(url.strip())
    if not sources:
        raise InvalidInput(
            "Choose a file or enter a web address",
            details=[{"field": "file", "message": "Choose a file or enter a web address"}],
        )
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
