"""The casework pages with JavaScript off: every demo form end to end, errors, uploads, status,
and a caseworker deciding from the queue."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from conftest import csrf_from, make_settings, sign_in
from townhall.core import auth
from townhall.core.decisions import DecisionRecord
from townhall.services.casework.models import Case, Evidence
from townhall.settings import Settings

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)


def _date(day: dt.date) -> dict[str, str]:
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def _dob(day: dt.date) -> dict[str, str]:
    return {f"date_of_birth-{part}": value for part, value in _date(day).items()}


ADDRESS = {"address_line_1": "4 Mill Lane", "town": "Exampleton", "postcode": "sn1 1aa"}
# What a citizen types on each form's pages (by field name; a date as its three boxes).
ANSWERS: dict[str, dict[str, Any]] = {
    "missed-bin": {
        "address_line_1": "7 Orchard Close",
        "postcode": "SN3 3BD",
        "bin_type": "recycling",
        **{f"collection_date-{k}": v for k, v in _date(YESTERDAY).items()},
        "bin_out_by_7am": "yes",
        "assisted_collection": "no",
        "details": "",
        "email": "robin@example.com",
        "phone": "",
    },
    "blue-badge": {
        "full_name": "Morgan Example",
        **_dob(dt.date(1951, 3, 27)),
        "ni_number": "",
        **ADDRESS,
        "email": "morgan@example.com",
        "phone": "07700 900123",
        "qualifying_benefits": ["dla_higher_mobility"],
        "terminal_illness": "no",
    },
    "council-tax-reduction": {
        "full_name": "Sam Example",
        **_dob(dt.date(1984, 11, 2)),
        "ni_number": "AB123456C",
        **ADDRESS,
        "email": "sam@example.com",
        "phone": "",
        "account_number": "40012345",
        "annual_council_tax": "1850.40",
        "lives_with_partner": "no",
        "children": "2",
        "passport_benefit": "universal_credit",
        "capital": "1200",
        "received_summons": "no",
    },
    "parking-permit": {
        "full_name": "Alex Example",
        **ADDRESS,
        "email": "alex@example.com",
        "phone": "",
        "zone": "A",
        "vehicle_registration": "CU57 ABC",
        "registered_keeper": "yes",
        "electric_vehicle": "no",
        "blue_badge_holder": "no",
        **{f"permit_start-{k}": v for k, v in _date(TODAY).items()},
    },
    "enquiry": {
        "question": "Can I have an extra recycling box?",
        "email": "jo@example.com",
        "postcode": "SN2 2BB",
    },
}
EVIDENCE = {
    "missed-bin": [],  # the photo is optional: the journey skips it
    "blue-badge": ["photo", "proof_of_identity", "proof_of_address", "proof_of_benefit"],
    "council-tax-reduction": ["proof_of_benefit"],
    "parking-permit": ["proof_of_address", "vehicle_log_book"],
    "enquiry": [],
}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return buffer.getvalue()


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=72, height=72)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, casework_evidence_dir=tmp_path / "evidence")


def text_of(response: Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.text))


def error_summary(response: Response) -> list[tuple[str, str]]:
    box = re.search(r'govuk-error-summary__list">(.*?)</ul>', response.text, re.S)
    assert box, "the page has no error summary"
    return [
        (href, html.unescape(text))
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', box.group(1))
    ]


def post_page(
    client: TestClient, url: str, data: dict[str, Any], *, page: str | None = None
) -> Response:
    token = csrf_from(client.get(page or url).text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def upload(client: TestClient, url: str, name: str, content: bytes, kind: str) -> Response:
    token = csrf_from(client.get(url).text)
    return client.post(
        url,
        data={"csrf_token": token},
        files={"file": (name, content, kind)},
        follow_redirects=False,
    )


def page_fields(page_html: str) -> set[str]:
    names = set(re.findall(r'name="([a-z0-9_]+)(?:-(?:day|month|year))?"', page_html))
    return names - {"csrf_token"}


def answer_until_check(client: TestClient, form_id: str) -> list[str]:
    """Answer each question page as it comes, then upload the evidence asked for; returns the
    question pages visited (the check-answers page is next)."""
    start = client.get(f"/apply/{form_id}")
    url = re.search(rf'href="(/apply/{form_id}/[a-z-]+)"[^>]*class="govuk-button', start.text)
    assert url, "the form's start page has no Start now button"
    location = url.group(1)
    visited = []
    answers = ANSWERS[form_id]
    while "/evidence/" not in location and not location.endswith("/check-answers"):
        visited.append(location.rsplit("/", 1)[1])
        fields = page_fields(client.get(location).text)
        data = {k: v for k, v in answers.items() if re.sub(r"-(day|month|year)$", "", k) in fields}
        response = post_page(client, location, data)
        assert response.status_code == 303, error_summary(response)
        location = response.headers["location"]
    for kind in EVIDENCE[form_id]:
        assert location == f"/apply/{form_id}/evidence/{kind}"
        response = upload(client, location, f"{kind}.png", png(), "image/png")
        assert response.status_code == 303, error_summary(response)
        location = response.headers["location"]
    while location != f"/apply/{form_id}/check-answers":  # optional evidence: continue without
        response = post_page(client, location, {})
        assert response.status_code == 303, error_summary(response)
        location = response.headers["location"]
    return visited


def send(client: TestClient, form_id: str) -> str:
    response = post_page(client, f"/apply/{form_id}/check-answers", {})
    assert response.status_code == 303, error_summary(response)
    assert response.headers["location"] == f"/apply/{form_id}/confirmation"
    panel = client.get(response.headers["location"])
    found = re.search(
        r'govuk-panel__body">Your reference number<br><strong>([A-Z]+-\d+)', panel.text
    )
    assert found, panel.text
    return found.group(1)


@pytest.mark.parametrize("form_id", sorted(ANSWERS))
def test_a_citizen_sends_each_demo_form_one_question_at_a_time(
    client: TestClient, db: Session, form_id: str
) -> None:
    visited = answer_until_check(client, form_id)
    check = client.get(f"/apply/{form_id}/check-answers")
    assert check.status_code == 200
    assert "Check your answers before sending" in check.text
    # Every question page answered has a change link back to it.
    for page_id in visited:
        assert f'href="/apply/{form_id}/{page_id}?change=1"' in check.text
    reference = send(client, form_id)
    case = db.scalar(select(Case).where(Case.reference == reference))
    assert case is not None
    assert case.status == "triaged"
    assert case.channel == "web"
    assert case.triage_decision_id is not None
    kinds = sorted(db.scalars(select(Evidence.kind).where(Evidence.case_id == case.id)))
    assert kinds == sorted(EVIDENCE[form_id])
    # The draft is spent: the form starts afresh.
    assert "Start now" in client.get(f"/apply/{form_id}").text


def test_the_start_page_lists_every_demo_form(client: TestClient) -> None:
    page = client.get("/apply")
    assert page.status_code == 200
    for form_id in ANSWERS:
        assert f'href="/apply/{form_id}"' in page.text
    assert 'href="/apply"' in client.get("/").text


def test_wrong_answers_show_the_error_summary_linked_to_each_field_and_are_kept(
    client: TestClient, db: Session
) -> None:
    response = post_page(
        client,
        "/apply/council-tax-reduction/address",
        {"address_line_1": "12 Station Road", "town": "", "postcode": "NOT A POSTCODE"},
    )
    assert response.status_code == 422
    assert error_summary(response) == [
        ("#town", "Enter town or city"),
        ("#postcode", "Enter a real postcode, like SN1 1AA"),
    ]
    assert 'id="postcode-error"' in response.text
    assert 'aria-describedby="postcode-error"' in response.text
    assert response.text.startswith("<!DOCTYPE html>")
    assert "<title>Error: " in response.text
    # What was typed, right or wrong, is kept in the server-side draft and shown again.
    draft = db.scalar(select(Case).where(Case.form == "council-tax-reduction"))
    assert draft is not None and draft.status == "draft"
    assert draft.answers["postcode"] == "NOT A POSTCODE"
    again = client.get("/apply/council-tax-reduction/address")
    assert 'value="12 Station Road"' in again.text
    assert 'value="NOT A POSTCODE"' in again.text


def test_a_date_error_links_to_the_day_box(client: TestClient) -> None:
    response = post_page(
        client,
        "/apply/blue-badge/date-of-birth",
        {"date_of_birth-day": "31", "date_of_birth-month": "2", "date_of_birth-year": "1960"},
    )
    assert response.status_code == 422
    assert error_summary(response) == [("#date_of_birth-day", "Date of birth must be a real date")]
    assert 'value="31"' in response.text


def test_a_conditional_question_is_asked_only_when_an_earlier_answer_needs_it(
    client: TestClient,
) -> None:
    for page_id in ("name", "date-of-birth", "national-insurance", "address", "contact"):
        answers = ANSWERS["blue-badge"]
        fields = page_fields(client.get(f"/apply/blue-badge/{page_id}").text)
        data = {k: v for k, v in answers.items() if re.sub(r"-(day|month|year)$", "", k) in fields}
        assert post_page(client, f"/apply/blue-badge/{page_id}", data).status_code == 303
    with_benefit = post_page(
        client, "/apply/blue-badge/qualifying-benefits", {"qualifying_benefits": "pip_journeys_e"}
    )
    assert with_benefit.headers["location"] == "/apply/blue-badge/terminal-illness"
    after = post_page(client, "/apply/blue-badge/terminal-illness", {"terminal_illness": "no"})
    assert after.headers["location"] == "/apply/blue-badge/evidence/photo"  # walking skipped
    # An old link to a skipped question moves on instead of asking it.
    skipped = client.get("/apply/blue-badge/walking", follow_redirects=False)
    assert skipped.status_code == 303
    without = post_page(
        client, "/apply/blue-badge/qualifying-benefits", {"qualifying_benefits": "none"}
    )
    assert without.headers["location"] == "/apply/blue-badge/terminal-illness"
    after = post_page(client, "/apply/blue-badge/terminal-illness", {"terminal_illness": "no"})
    assert after.headers["location"] == "/apply/blue-badge/walking"


def test_a_change_link_returns_to_check_answers_with_the_new_answer(client: TestClient) -> None:
    answer_until_check(client, "missed-bin")
    change = client.get("/apply/missed-bin/bin-type?change=1")
    assert 'href="/apply/missed-bin/check-answers" class="govuk-back-link"' in change.text
    assert 'action="/apply/missed-bin/bin-type?change=1"' in change.text
    token = csrf_from(change.text)
    response = client.post(
        "/apply/missed-bin/bin-type?change=1",
        data={"bin_type": "garden", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/apply/missed-bin/check-answers"
    check = text_of(client.get("/apply/missed-bin/check-answers"))
    assert "Garden waste (brown bin)" in check
    assert "Recycling (blue bin)" not in check


def test_a_change_that_opens_a_new_question_asks_it_before_check_answers(
    client: TestClient,
) -> None:
    answer_until_check(client, "council-tax-reduction")
    response = post_page(
        client, "/apply/council-tax-reduction/benefits?change=1", {"passport_benefit": "none"}
    )
    assert response.headers["location"] == "/apply/council-tax-reduction/income?change=1"


def test_a_required_document_must_be_uploaded_to_continue(client: TestClient) -> None:
    answer_until_check(client, "missed-bin")  # makes the draft
    post_page(client, "/apply/parking-permit/name", {"full_name": "Alex Example"})
    response = post_page(client, "/apply/parking-permit/evidence/proof_of_address", {})
    assert response.status_code == 422
    assert error_summary(response) == [("#file", "Select proof of address to upload")]


def test_sending_with_a_document_missing_points_to_its_upload_page(client: TestClient) -> None:
    answer_until_check(client, "parking-permit")
    response = post_page(
        client, "/apply/parking-permit/keeper?change=1", {"registered_keeper": "no"}
    )
    assert response.headers["location"] == "/apply/parking-permit/check-answers"
    refused = post_page(client, "/apply/parking-permit/check-answers", {})
    assert refused.status_code == 422
    assert error_summary(refused) == [
        (
            "/apply/parking-permit/evidence/keeper_permission?change=1",
            "Upload a letter from the vehicle's keeper saying you may use it",
        )
    ]


def test_a_pdf_that_is_not_a_pdf_is_refused_with_a_clear_message(
    client: TestClient, db: Session
) -> None:
    post_page(
        client, "/apply/missed-bin/address", {"address_line_1": "1 Lane", "postcode": "SN1 1AA"}
    )
    response = upload(
        client, "/apply/missed-bin/evidence/photo", "bin.pdf", b"just some text", "application/pdf"
    )
    assert response.status_code == 422
    ((_, message),) = error_summary(response)
    assert message == "The file 'bin.pdf' is not a real PDF. Save it as a PDF again and upload it"
    assert db.scalar(select(Evidence.id)) is None
    # The draft is untouched by the refused file.
    assert 'value="1 Lane"' in client.get("/apply/missed-bin/address").text


def test_a_real_pdf_is_kept_and_listed(client: TestClient, db: Session) -> None:
    post_page(
        client, "/apply/missed-bin/address", {"address_line_1": "1 Lane", "postcode": "SN1 1AA"}
    )
    response = upload(
        client, "/apply/missed-bin/evidence/photo", "bin.pdf", pdf(), "application/pdf"
    )
    assert response.status_code == 303
    item = db.scalar(select(Evidence))
    assert item is not None and item.media_type == "application/pdf"
    assert "bin.pdf" in client.get("/apply/missed-bin/evidence/photo").text


@pytest.fixture
def roomy_app(database_url: str, tmp_path: Path) -> FastAPI:
    # A body limit above 50 MB, so the file reaches the evidence check rather than the
    # server's own body limit (tested below).
    return _app(database_url, tmp_path, max_upload_bytes=64 * 1024 * 1024)


def _app(database_url: str, tmp_path: Path, **overrides: Any) -> FastAPI:
    from townhall.app import create_app

    return create_app(
        make_settings(database_url, casework_evidence_dir=tmp_path / "evidence", **overrides)
    )


def test_a_50_mb_upload_is_refused_with_a_clear_message_and_the_draft_kept(
    roomy_app: FastAPI, tmp_path: Path
) -> None:
    with TestClient(roomy_app) as client:
        post_page(
            client, "/apply/missed-bin/address", {"address_line_1": "1 Lane", "postcode": "SN1 1AA"}
        )
        big = b"%PDF-1.4\n" + b"0" * (50 * 1024 * 1024)
        response = upload(
            client, "/apply/missed-bin/evidence/photo", "big.pdf", big, "application/pdf"
        )
        assert response.status_code == 422
        assert error_summary(response) == [
            ("#file", "The file 'big.pdf' must be smaller than 10 MB")
        ]
        assert 'value="1 Lane"' in client.get("/apply/missed-bin/address").text
    assert not list((tmp_path / "evidence").glob("*"))
    roomy_app.state.engine.dispose()


def test_an_upload_over_the_body_limit_is_refused_and_the_draft_kept(
    database_url: str, tmp_path: Path
) -> None:
    # A request cap for uploads below the evidence file limit: the server refuses the body
    # before the form is read, and says so.
    with TestClient(_app(database_url, tmp_path, max_upload_bytes=1024 * 1024)) as client:
        _refused_over_the_body_limit(client)


def _refused_over_the_body_limit(client: TestClient) -> None:
    post_page(
        client, "/apply/missed-bin/address", {"address_line_1": "1 Lane", "postcode": "SN1 1AA"}
    )
    page = client.get("/apply/missed-bin/evidence/photo")
    assert "smaller than 1008 KB" in text_of(page)  # the body limit is below the file limit
    response = upload(
        client, "/apply/missed-bin/evidence/photo", "big.png", b"0" * (2 * 1024 * 1024), "image/png"
    )
    assert response.status_code == 413
    assert "larger than the 1024 KB this service accepts" in text_of(response)
    assert 'value="1 Lane"' in client.get("/apply/missed-bin/address").text


def test_a_page_posted_without_the_csrf_token_is_refused(client: TestClient) -> None:
    response = client.post("/apply/missed-bin/address", data={"postcode": "SN1 1AA"})
    assert response.status_code == 403


# --- status, decisions and reviews -----------------------------------------------------------


def _status(client: TestClient, reference: str, verifier: str = "") -> Response:
    return post_page(client, "/case-status", {"reference": reference, "verifier": verifier})


def test_an_unknown_reference_gives_a_clear_error(client: TestClient) -> None:
    response = _status(client, "MB-999999")
    assert response.status_code == 422
    assert error_summary(response) == [("#reference", "There is no case MB-999999")]
    assert 'value="MB-999999"' in response.text
    empty = _status(client, "")
    assert error_summary(empty) == [("#reference", "Enter your reference number")]
    wrong = _status(client, "MB-999999", "SN1 1AA")
    assert error_summary(wrong)[0][0] == "#verifier"


@pytest.fixture
def waste_worker(make_user: Callable[..., auth.User]) -> auth.User:
    return make_user("waste.worker", "caseworker", teams=("waste",))


def _decide(client: TestClient, reference: str, outcome: str, reason: str) -> Response:
    return post_page(
        client,
        f"/casework/cases/{reference}/decide",
        {"outcome": outcome, "reason": reason},
    )


def test_a_caseworker_decides_and_the_citizen_sees_the_refusal_and_asks_for_review(
    app: FastAPI, waste_worker: auth.User, db: Session
) -> None:
    with TestClient(app) as citizen:
        answer_until_check(citizen, "missed-bin")
        reference = send(citizen, "missed-bin")
        before = text_of(_status(citizen, reference))
        assert "Received" in before

    with TestClient(app) as staff:
        sign_in(staff, "waste.worker")
        queue = staff.get("/casework/queue?team=waste")
        assert f'href="/casework/cases/{reference}"' in queue.text
        case = staff.get(f"/casework/cases/{reference}")
        assert "What the rules suggest" in case.text
        assigned = post_page(
            staff, f"/casework/cases/{reference}/assign", {}, page=f"/casework/cases/{reference}"
        )
        assert assigned.headers["location"] == f"/casework/cases/{reference}?done=assigned"
        # Both missing answers are named at once, and nothing is decided.
        refused = _decide(staff, reference, "", "")
        assert refused.status_code == 422
        assert [href for href, _ in error_summary(refused)] == ["#outcome", "#reason"]
        decided = _decide(staff, reference, "refuse", "The bin was not out on time.")
        assert decided.status_code == 303
        assert "Your decision has been recorded" in staff.get(decided.headers["location"]).text

    with TestClient(app) as citizen:
        progress = text_of(_status(citizen, reference))
        assert "Decision made" in progress
        assert "We will not come back to empty your bin this time." in progress
        assert "If you think we got this wrong" in progress  # review rights, even unverified
        assert "The bin was not out on time." not in progress
        verified = _status(citizen, reference, "sn3 3bd")
        assert "The bin was not out on time." in text_of(verified)
        token = csrf_from(verified.text)
        review = citizen.post(
            "/case-status/review",
            data={
                "reference": reference,
                "verifier": "SN3 3BD",
                "reason": "It was out at 6am.",
                "csrf_token": token,
            },
        )
        assert review.status_code == 200, review.text
        new = re.search(r"Your review reference number<br><strong>([A-Z]+-\d+)", review.text)
        assert new is not None
    db.expire_all()
    linked = db.scalar(select(Case).where(Case.reference == new.group(1)))
    original = db.scalar(select(Case).where(Case.reference == reference))
    assert linked is not None and original is not None
    assert linked.appeal_of_id == original.id
    assert original.status == "appealed"
    triage = db.get(DecisionRecord, original.triage_decision_id)
    assert triage is not None and triage.status in {"accepted", "overridden"}


def test_a_caseworker_asks_for_more_information_and_the_citizen_replies(
    app: FastAPI, waste_worker: auth.User
) -> None:
    with TestClient(app) as citizen:
        answer_until_check(citizen, "missed-bin")
        reference = send(citizen, "missed-bin")
    with TestClient(app) as staff:
        sign_in(staff, "waste.worker")
        empty = post_page(staff, f"/casework/cases/{reference}/request-information", {})
        assert error_summary(empty) == [("#message", "Enter what you need from the citizen")]
        sent = post_page(
            staff,
            f"/casework/cases/{reference}/request-information",
            {"message": "Which side of the road is the bin on?"},
        )
        assert sent.status_code == 303
    with TestClient(app) as citizen:
        status = _status(citizen, reference, "robin@example.com")
        assert "Which side of the road is the bin on?" in text_of(status)
        token = csrf_from(status.text)
        replied = citizen.post(
            "/case-status/reply",
            data={
                "reference": reference,
                "verifier": "robin@example.com",
                "message": "The north side.",
                "csrf_token": token,
            },
        )
        assert "We have your reply" in replied.text


def test_staff_of_another_team_cannot_see_the_case_or_its_files(
    app: FastAPI, make_user: Callable[..., auth.User], db: Session
) -> None:
    make_user("tax.worker", "caseworker", teams=("council-tax",))
    make_user("parking.worker", "caseworker", teams=("parking",))
    with TestClient(app) as citizen:
        answer_until_check(citizen, "parking-permit")
        reference = send(citizen, "parking-permit")
    item = db.scalar(select(Evidence).order_by(Evidence.id))
    assert item is not None
    with TestClient(app) as outsider:
        sign_in(outsider, "tax.worker")
        assert outsider.get(f"/casework/cases/{reference}").status_code == 404
        assert outsider.get(f"/casework/cases/{reference}/evidence/{item.id}").status_code == 404
        assert f"/casework/cases/{reference}" not in outsider.get("/casework/queue").text
    with TestClient(app) as insider:
        sign_in(insider, "parking.worker")
        file = insider.get(f"/casework/cases/{reference}/evidence/{item.id}")
        assert file.status_code == 200
        assert file.content == png()
        assert file.headers["content-disposition"].startswith("attachment;")
    with TestClient(app) as anonymous:
        denied = anonymous.get(f"/casework/cases/{reference}", follow_redirects=False)
        assert denied.status_code == 303
        assert denied.headers["location"].startswith("/sign-in")


def test_the_queue_filters_by_priority_and_the_dashboard_counts_cases(
    app: FastAPI, make_user: Callable[..., auth.User], engine: Engine
) -> None:
    make_user("waste.worker", "caseworker", teams=("waste",))
    make_user("analyst.one", "analyst")
    with TestClient(app) as citizen:
        answer_until_check(citizen, "missed-bin")
        reference = send(citizen, "missed-bin")
    with Session(engine) as session:
        priority = session.scalar(select(Case.priority).where(Case.reference == reference))
    other = next(p for p in ("urgent", "high", "routine", "low") if p != priority)
    with TestClient(app) as staff:
        sign_in(staff, "waste.worker")
        assert reference in staff.get(f"/casework/queue?priority={priority}").text
        assert reference not in staff.get(f"/casework/queue?priority={other}").text
        assert staff.get("/casework", follow_redirects=False).headers["location"] == (
            "/casework/queue"
        )
        board = text_of(staff.get("/casework/dashboard"))
        assert "Report a missed bin collection" in board
        assert "download the anonymised extract" not in board
    with TestClient(app) as analyst:
        sign_in(analyst, "analyst.one")
        assert analyst.get("/casework", follow_redirects=False).headers["location"] == (
            "/casework/dashboard"
        )
        assert "download the anonymised extract" in analyst.get("/casework/dashboard").text
        assert analyst.get("/casework/queue").status_code == 403
