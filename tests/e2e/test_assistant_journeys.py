"""A citizen asks the assistant, rates the answer and asks a person, with and without JavaScript."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, Request, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townhall.core.db import transaction, utcnow
from townhall.core.jobs import DONE, RUNNING, JobRun
from townhall.services.assistant.models import Handoff, Rating

from .e2e_support import ContextFactory, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

QUESTION = "What day are bins collected in XS2?"
BINS_PAGE = "https://www.exampleshire.gov.uk/bins-and-recycling/collection-days"
ANSWER_TIMEOUT_MS = 30_000


def _ask(page: Page, question: str, *, javascript: bool) -> list[str]:
    """Ask through the form; returns the addresses of the requests the browser sent."""
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url)

    page.on("request", record)
    page.get_by_label(re.compile("What do you want to know|Ask another question")).fill(question)
    if javascript:
        # The stream's answer lines appear before the page reloads with the full turn.
        with page.expect_response(lambda r: r.url.endswith("/ask/stream")) as streamed:
            page.get_by_role("button", name="Ask", exact=True).click()
        assert streamed.value.status == 200
        assert streamed.value.headers["content-type"].startswith("application/x-ndjson")
    else:
        page.get_by_role("button", name="Ask", exact=True).click()
    # Rendered by the server (after the stream's reload, or after the plain post's redirect).
    # The first question a server answers also builds its index: allow for that.
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    page.remove_listener("request", record)
    return sent


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_citizen_asks_rates_the_answer_and_asks_a_person(
    new_context: ContextFactory, live_server: LiveServer, javascript: bool
) -> None:
    page = new_context(javascript=javascript).new_page()
    page.goto(live_server.url("/ask"))
    body_classes = page.locator("body").get_attribute("class") or ""
    assert ("js-enabled" in body_classes) is javascript, body_classes
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask a question")
    expect(page.locator("#ai-notice")).to_contain_text(
        "This assistant uses artificial intelligence"
    )

    sent = _ask(page, QUESTION, javascript=javascript)
    if javascript:
        assert any(url.endswith("/ask/stream") for url in sent), sent
    else:
        assert sent == [live_server.url("/ask")], sent

    # The answer, its question and its sources, with the notice still above them.
    expect(page).to_have_url(re.compile(r"/ask#answer-[0-9a-f-]{36}$"))
    turn = page.locator(".app-turn")
    expect(turn).to_have_count(1)
    expect(turn.get_by_role("heading", level=2)).to_have_text(f"You asked: {QUESTION}")
    expect(turn).to_contain_text("Tuesday")
    expect(turn.get_by_role("heading", name="Where this answer comes from")).to_be_visible()
    sources = turn.locator("ol a.govuk-link")
    expect(sources.first).to_have_attribute("href", BINS_PAGE)
    expect(sources.first).to_contain_text("Bin collection days")
    expect(page.locator("#ai-notice")).to_be_visible()
    decision_id = (turn.get_attribute("id") or "").removeprefix("answer-")

    # Rate it: thanked, the buttons go, and the rating is kept.
    page.get_by_role("button", name=re.compile(r"^Yes\b.*helpful")).click()
    expect(page.get_by_text("Thank you for your feedback.")).to_be_visible()
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_have_count(0)
    with Session(live_server.engine) as session:
        ratings = session.scalars(select(Rating).where(Rating.decision_id == decision_id)).all()
    assert [r.helpful for r in ratings] == [True]

    # Ask a person: the form starts from the question asked.
    page.get_by_role("link", name="Ask a person instead", exact=True).click()
    expect(page).to_have_url(live_server.url("/ask/person"))
    expect(page.get_by_label("Your question")).to_have_value(QUESTION)
    page.get_by_role("button", name="Send to a person").click()
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel).to_contain_text("Your question has been sent")
    reference = panel.locator("strong").inner_text()
    assert re.fullmatch(r"ASK-\d{6}", reference), reference
    expect(
        page.get_by_text("We have sent your question to the Waste and Recycling team.")
    ).to_be_visible()
    with Session(live_server.engine) as session:
        handoff = session.get(Handoff, int(reference.removeprefix("ASK-")))
    assert handoff is not None and (handoff.team, handoff.question) == ("waste", QUESTION)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_refusal_links_to_a_person_and_an_empty_question_is_an_error(
    new_context: ContextFactory, live_server: LiveServer, javascript: bool
) -> None:
    page = new_context(javascript=javascript).new_page()
    page.goto(live_server.url("/ask"))
    page.get_by_role("button", name="Ask", exact=True).click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name="Enter your question")).to_have_attribute(
        "href", "#question"
    )
    expect(page).to_have_title(re.compile(r"^Error: Ask a question"))

    _ask(page, "How do I renew my passport?", javascript=javascript)
    turn = page.locator(".app-turn")
    expect(turn).to_contain_text("I won't guess.")
    expect(turn.get_by_role("heading", name="Where this answer comes from")).to_have_count(0)
    turn.get_by_role("link", name="Ask a person about this").click()
    expect(page).to_have_url(live_server.url("/ask/person"))
    expect(page.get_by_label("Your question")).to_have_value("How do I renew my passport?")


def test_the_job_page_follows_an_ingest_to_its_end_without_a_reload(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    run_id = uuid.uuid4().hex[:16]
    with transaction(live_server.engine) as session:
        session.add(
            JobRun(
                id=run_id,
                job="assistant.ingest",
                requested_by="e2e.analyst",
                params={"sources": ["guidance.md"]},
                status=RUNNING,
                done=1,
                total=3,
                message="guidance.md",
                started_at=utcnow(),
            )
        )
    page = new_context("analyst").new_page()
    page.goto(live_server.url(f"/assistant/jobs/{run_id}"))
    status = page.locator(".govuk-summary-list__row", has_text="Status").locator("dd")
    expect(status).to_have_text("Running")
    expect(page.get_by_role("link", name="Check progress again")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    with transaction(live_server.engine) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                status=DONE,
                done=3,
                message="Done",
                finished_at=utcnow(),
                result={"added": 3, "skipped": [["notes.pdf", "not a readable PDF"]]},
            )
        )
    # assistant.js polls every two seconds and swaps in the fresh status.
    expect(status).to_have_text("Done", timeout=8000)
    expect(page.get_by_text("notes.pdf: not a readable PDF")).to_be_visible()
    expect(page.get_by_role("link", name="Check progress again")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
