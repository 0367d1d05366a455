"""The assistant's pages: the chat without JavaScript, the stream, hand-offs and staff ingest."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from demo_corpus import DEFAULT_TEAM, PAGES, seed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from conftest import csrf_from, make_settings, sign_in
from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.core.jobs import DONE, JobRun, Queue
from townhall.services.assistant import retrieval
from townhall.services.assistant.models import Chunk, Document, Handoff, Rating, Turn
from townhall.settings import Settings

BINS_XS2 = "What day are bins collected in XS2?"
BINS_PAGE = PAGES["bin-collection-days"][0]
AI_NOTICE = "This assistant uses artificial intelligence (AI)."
MAX_BODY = 256 * 1024  # small, so an oversized upload is cheap to send
MAX_FILE = 16 * 1024  # over every demo page (about 4 KB), so one upload can be made too big


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        assistant_default_team=DEFAULT_TEAM,
        jobs_store=tmp_path / "jobs.db",
        exports_dir=tmp_path / "var" / "exports",
        max_body_bytes=MAX_BODY,
        max_upload_bytes=MAX_BODY,
        assistant_max_file_bytes=MAX_FILE,
    )


@pytest.fixture
def corpus(engine: Engine, settings: Settings) -> None:
    seed(engine, settings)


def post(client: TestClient, url: str, data: dict[str, str], **kwargs: Any) -> Any:
    """A form post with the session's CSRF token, as the browser sends it."""
    token = csrf_from(client.get("/ask").text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)


def text_of(page: str) -> str:
    """The page's text, tags removed and whitespace collapsed, for reading what a person sees."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def all_turns(engine: Engine) -> list[Turn]:
    with Session(engine) as session:
        return list(session.scalars(select(Turn).order_by(Turn.id)))


def count(engine: Engine, table: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_the_empty_chat_page_has_the_ai_notice_and_a_form_that_needs_no_javascript(
    client: TestClient,
) -> None:
    page = client.get("/ask")
    assert page.status_code == 200
    assert AI_NOTICE in text_of(page.text)
    assert "Do not type personal details" in text_of(page.text)
    assert re.search(r'<form method="post" action="/ask" id="ask-form"', page.text)
    assert '<textarea class="govuk-textarea" id="question" name="question"' in page.text
    assert 'class="app-turn"' not in page.text
    assert 'href="/ask/person"' in page.text


@pytest.mark.usefixtures("corpus")
def test_without_javascript_the_answer_shows_with_its_citations_and_the_notice(
    client: TestClient, engine: Engine
) -> None:
    question = f"My email is sam.jones@example.co.uk. {BINS_XS2}"
    response = post(client, "/ask", {"question": question})
    assert response.status_code == 303
    (turn,) = all_turns(engine)
    assert response.headers["location"] == f"/ask#answer-{turn.decision_id}"

    page = client.get("/ask").text
    shown = text_of(page)
    assert AI_NOTICE in shown
    assert f'id="answer-{turn.decision_id}"' in page
    assert f"You asked: My email is [EMAIL_ADDRESS]. {BINS_XS2}" in shown
    assert "sam.jones" not in page
    assert "Tuesday" in shown  # XS2 is collected on Tuesdays
    assert "Where this answer comes from" in shown
    source = "Bin collection days: Find your collection day"
    assert f'<a class="govuk-link" href="{BINS_PAGE}">{source}</a>' in page
    assert f'name="decision_id" value="{turn.decision_id}"' in page  # the rating form
    assert "Ask another question" in shown and "Start a new conversation" in shown


@pytest.mark.usefixtures("corpus")
def test_a_refusal_on_the_page_offers_a_person(client: TestClient) -> None:
    post(client, "/ask", {"question": "How do I renew my passport?"})
    page = client.get("/ask").text
    assert "I won't guess." in text_of(page)
    assert '<a class="govuk-link" href="/ask/person">Ask a person about this</a>' in page
    assert "Where this answer comes from" not in page


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "Enter your question"), ("x" * 1001, "Your question must be 1000 characters or fewer")],
    ids=["empty", "too-long"],
)
def test_a_bad_question_shows_the_error_summary_linked_to_the_field(
    client: TestClient, engine: Engine, question: str, message: str
) -> None:
    response = post(client, "/ask", {"question": question})
    assert response.status_code == 422
    page = response.text
    assert re.search(r"<title>Error: Ask a question", page)
    assert 'class="govuk-error-summary"' in page
    assert f'<a href="#question">{message}</a>' in page
    assert '<p id="question-error" class="govuk-error-message">' in page
    assert 'aria-describedby="question-hint question-error"' in page
    assert f">{question}</textarea>" in page  # kept, to be corrected
    assert AI_NOTICE in text_of(page)
    assert count(engine, DecisionRecord) == 0 and count(engine, Turn) == 0


@pytest.mark.usefixtures("corpus")
def test_the_stream_sends_json_lines_ending_with_the_final_answer(
    client: TestClient, engine: Engine
) -> None:
    response = post(client, "/ask/stream", {"question": BINS_XS2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    events = [json.loads(line) for line in response.text.splitlines()]
    start, *texts, done = events
    assert start["type"] == "start" and texts and done["type"] == "done"
    assert {e["type"] for e in texts} == {"text"}
    assert set(done) == {
        "type",
        "answer",
        "citations",
        "refused",
        "reason",
        "conversation_id",
        "decision_id",
    }
    assert done["decision_id"] == start["decision_id"]
    assert [e["text"] for e in texts] == done["answer"].split("\n")
    assert done["citations"][0]["url"] == BINS_PAGE and not done["refused"]

    # The streamed answer is the same record the page shows afterwards.
    (turn,) = all_turns(engine)
    assert turn.decision_id == done["decision_id"] and turn.answer == done["answer"]
    assert f'id="answer-{done["decision_id"]}"' in client.get("/ask").text

    blank = post(client, "/ask/stream", {"question": "  "})
    assert blank.status_code == 422 and count(engine, Turn) == 1


@pytest.mark.usefixtures("corpus")
def test_rating_an_answer_once_thanks_the_citizen(client: TestClient, engine: Engine) -> None:
    post(client, "/ask", {"question": BINS_XS2})
    (turn,) = all_turns(engine)
    decision_id = turn.decision_id or ""
    bad = post(client, "/ask/rate", {"decision_id": decision_id, "helpful": "maybe"})
    assert bad.status_code == 422
    rated = post(client, "/ask/rate", {"decision_id": decision_id, "helpful": "no"})
    assert rated.status_code == 303
    assert rated.headers["location"] == f"/ask#answer-{decision_id}"
    again = post(client, "/ask/rate", {"decision_id": decision_id, "helpful": "yes"})
    assert again.status_code == 303
    with Session(engine) as session:
        ratings = session.scalars(select(Rating)).all()
    assert [(r.decision_id, r.helpful) for r in ratings] == [(decision_id, False)]
    page = client.get("/ask").text
    assert "Thank you for your feedback." in page
    assert f'name="decision_id" value="{decision_id}"' not in page


@pytest.mark.usefixtures("corpus")
def test_only_answers_in_your_own_conversation_can_be_rated(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    with TestClient(app) as someone_else:
        post(someone_else, "/ask", {"question": BINS_XS2})
    (theirs,) = all_turns(engine)
    response = post(client, "/ask/rate", {"decision_id": theirs.decision_id or "", "helpful": "no"})
    assert response.status_code == 404
    assert count(engine, Rating) == 0


@pytest.mark.usefixtures("corpus")
def test_a_new_conversation_forgets_the_old_one(client: TestClient, engine: Engine) -> None:
    post(client, "/ask", {"question": BINS_XS2})
    assert 'class="app-turn"' in client.get("/ask").text
    assert post(client, "/ask/new", {}).status_code == 303
    page = client.get("/ask").text
    assert 'class="app-turn"' not in page and "What do you want to know?" in page
    post(client, "/ask", {"question": "Can I get a Blue Badge?"})
    assert len({t.conversation_id for t in all_turns(engine)}) == 2


@pytest.mark.usefixtures("corpus")
def test_asking_a_person_starts_from_the_last_question_and_gives_a_reference(
    client: TestClient, engine: Engine
) -> None:
    post(client, "/ask", {"question": f"Call me on 07700 900982. {BINS_XS2}"})
    form = client.get("/ask/person").text
    assert f">Call me on [PHONE_NUMBER]. {BINS_XS2}</textarea>" in form

    sent = post(
        client,
        "/ask/person",
        {"question": "My XS2 bins were missed on Tuesday", "contact": "sam@example.co.uk"},
    )
    assert sent.status_code == 200
    shown = text_of(sent.text)
    assert "Your question has been sent" in shown
    assert "Your reference is ASK-000001" in shown
    assert "We have sent your question to the Waste and Recycling team." in shown
    assert "They will reply within 5 working days" in shown
    with Session(engine) as session:
        (handoff,) = session.scalars(select(Handoff)).all()
    assert (handoff.team, handoff.contact) == ("waste", "sam@example.co.uk")
    assert handoff.conversation_id == all_turns(engine)[0].conversation_id

    no_contact = post(client, "/ask/person", {"question": "How do I renew my passport?"})
    shown = text_of(no_contact.text)
    assert "ASK-000002" in shown and "Customer Services team" in shown
    assert "You did not leave contact details" in shown


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"question": "  "}, "question", "Enter the question you want a person to answer"),
        (
            {"question": "When are bins collected?", "contact": "x" * 301},
            "contact",
            "Contact details must be 300 characters or fewer",
        ),
    ],
    ids=["no-question", "long-contact"],
)
def test_the_person_form_shows_errors_linked_to_their_fields(
    client: TestClient, engine: Engine, data: dict[str, str], field: str, message: str
) -> None:
    response = post(client, "/ask/person", data)
    assert response.status_code == 422
    page = response.text
    assert "<title>Error: Ask a person" in page
    assert f'<a href="#{field}">{message}</a>' in page
    assert f'<p id="{field}-error" class="govuk-error-message">' in page
    assert f'aria-describedby="{field}-hint {field}-error"' in page
    assert count(engine, Handoff) == 0


# --- staff pages -------------------------------------------------------------------------------


@pytest.fixture
def analyst(client: TestClient, make_user: Callable[..., auth.User]) -> TestClient:
    make_user("ana.lyst", "analyst")
    sign_in(client, "ana.lyst")
    return client


@pytest.fixture
def jobs_run_at_once(app: FastAPI) -> Iterator[Queue]:
    """The app's real job queue, in Huey's immediate mode: a submitted job runs before the
    request returns, so the test reads its outcome without a consumer thread to wait for."""
    queue = Queue(app.state.settings, app.state.jobs)
    queue.huey.immediate = True
    app.state.queue = queue
    yield queue


def test_staff_pages_need_the_manage_permission(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    for path in ("/assistant", "/assistant/gaps"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/sign-in?next={path}"
    make_user("case.worker", "caseworker")
    sign_in(client, "case.worker")
    for path in ("/assistant", "/assistant/gaps"):
        assert client.get(path).status_code == 403


@pytest.mark.usefixtures("corpus")
def test_the_staff_page_counts_the_guidance_and_open_hand_offs(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    post(client, "/ask/person", {"question": BINS_XS2})
    make_user("ana.lyst", "analyst")
    sign_in(client, "ana.lyst")
    page = client.get("/assistant")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Pages 6" in shown and "Languages en: 6" in shown
    assert re.search(r"waste 1", shown)
    assert 'enctype="multipart/form-data"' in page.text


@pytest.mark.usefixtures("corpus")
def test_the_gaps_page_groups_refused_and_unhelpful_questions(
    client: TestClient, engine: Engine, make_user: Callable[..., auth.User]
) -> None:
    for question in ("How do I renew my passport?", "Where can I get a new passport?"):
        post(client, "/ask", {"question": question})
    post(client, "/ask", {"question": BINS_XS2})
    (answered,) = [t for t in all_turns(engine) if not t.refused]
    post(client, "/ask/rate", {"decision_id": answered.decision_id or "", "helpful": "no"})
    make_user("ana.lyst", "analyst")
    sign_in(client, "ana.lyst")
    page = client.get("/assistant/gaps")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', page.text, re.S)[1:]
    cells = [text_of(row) for row in rows]
    assert "3 questions in 2 topics." in text_of(page.text)
    assert len(cells) == 2
    assert "passport" in cells[0] and " 2 refused: weak_evidence (2)" in cells[0]
    assert cells[1] == f"{BINS_XS2} 1 rated unhelpful (1)"


def upload(client: TestClient, name: str, content: bytes, url: str = "") -> Any:
    token = csrf_from(client.get("/assistant").text)
    files = {"file": (name, content, "application/octet-stream")}
    return client.post(
        "/assistant/ingest",
        data={"csrf_token": token, "url": url},
        files=files,
        follow_redirects=False,
    )


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.exports_dir).parent / "uploads"


def job_of(client: TestClient, response: Any) -> tuple[str, str]:
    """Follow an accepted upload to its job page: (run id, the page's text)."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    run_id = location.rsplit("/", 1)[1]
    page = client.get(location)
    assert page.status_code == 200
    return run_id, text_of(page.text)


@pytest.mark.parametrize(
    ("name", "content", "url", "field", "message"),
    [
        ("leaflet.exe", b"MZ\x90\x00\x03", "", "file", "The file must be HTML, Markdown"),
        ("", b"", "", "file", "Choose a file or enter a web address"),
        ("", b"", "ftp://example.org/guidance", "url", "Enter a web address starting with"),
        ("bins.md", b"# Bins", "javascript:alert(1)", "url", "Enter a web address starting"),
    ],
    ids=["binary-type", "nothing", "not-a-web-address", "bad-address-with-a-file"],
)
def test_an_ingest_form_error_is_shown_on_the_staff_page_and_nothing_is_written(
    analyst: TestClient,
    engine: Engine,
    settings: Settings,
    name: str,
    content: bytes,
    url: str,
    field: str,
    message: str,
) -> None:
    response = upload(analyst, name, content, url)
    assert response.status_code == 422
    page = response.text
    assert "<title>Error: Citizen assistant" in page
    assert re.search(rf'<a href="#{field}">{re.escape(message)}', page)
    assert f'<p id="{field}-error" class="govuk-error-message">' in page
    assert not uploads_dir(settings).exists()
    assert count(engine, JobRun) == 0


def test_an_upload_over_the_body_limit_is_refused_before_anything_is_written(
    analyst: TestClient, engine: Engine, settings: Settings
) -> None:
    response = upload(analyst, "huge.md", b"# Huge\n\n" + b"word " * (MAX_BODY // 5))
    assert response.status_code == 413
    assert "larger than the 256 KB this service accepts" in text_of(response.text)
    assert not uploads_dir(settings).exists()
    assert count(engine, JobRun) == 0


@pytest.mark.usefixtures("jobs_run_at_once")
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("guide.html", bytes(range(256)) * 8, "this is a binary file, not text"),
        ("leaflet.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "not a readable PDF"),
        ("long.md", b"# Long\n\n" + b"More words. " * (MAX_FILE // 10), "over the limit of 16 KB"),
    ],
    ids=["binary-html", "broken-pdf", "over-the-file-limit"],
)
def test_a_bad_file_is_named_in_the_job_report_and_nothing_is_half_written(
    analyst: TestClient, engine: Engine, name: str, content: bytes, reason: str
) -> None:
    run_id, shown = job_of(analyst, upload(analyst, name, content))
    with Session(engine) as session:
        run = session.get(JobRun, run_id)
        generation = retrieval.current_generation(session)
    assert run is not None and run.status == DONE
    assert run.result is not None and run.result["added"] == 0
    ((skipped_name, skipped_reason),) = run.result["skipped"]
    assert skipped_name == name and reason in skipped_reason
    assert "Status Done" in shown and "Files skipped" in shown
    assert f"{name}: {skipped_reason}" in shown
    assert count(engine, Document) == 0 and count(engine, Chunk) == 0 and generation == 0


SCRIPTED = b"""<html lang="en"><head><title>Allotments</title>
<script>var secret = "SCRIPT-SECRET-HEAD";</script></head><body><main>
<h1>Allotments</h1><h2>Renting an allotment</h2>
<p>An allotment plot costs \xc2\xa342 a year. Plots are let from 1 April and the waiting list
is about 18 months long.</p>
<script>document.write("SCRIPT-SECRET-BODY")</script>
<noscript>SCRIPT-SECRET-NOSCRIPT</noscript>
</main></body></html>"""


@pytest.mark.usefixtures("jobs_run_at_once")
def test_an_uploaded_page_is_indexed_without_its_scripts(
    analyst: TestClient, engine: Engine
) -> None:
    _, shown = job_of(analyst, upload(analyst, "allotments.html", SCRIPTED))
    assert "Status Done" in shown and "Added 1" in shown and "SCRIPT-SECRET" not in shown
    with Session(engine) as session:
        (document,) = session.scalars(select(Document)).all()
        texts = [c.text for c in session.scalars(select(Chunk))]
    assert (document.url, document.title) == ("file:allotments.html", "Allotments")
    assert texts and all("SCRIPT-SECRET" not in t and "document.write" not in t for t in texts)

    post(analyst, "/ask", {"question": "How much does an allotment plot cost?"})
    page = analyst.get("/ask").text
    assert "£42 a year" in text_of(page) and "SCRIPT-SECRET" not in page
    # A page from a file has no web address, so its citation is named but not a link.
    assert "Allotments: Renting an allotment" in text_of(page)
    assert 'href="file:' not in page


def test_a_job_page_is_only_for_ingest_runs(analyst: TestClient, engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(JobRun(id="0123456789abcdef", job="retention.purge", requested_by="x"))
    assert analyst.get("/assistant/jobs/0123456789abcdef").status_code == 404
    assert analyst.get("/assistant/jobs/no-such-run").status_code == 404
