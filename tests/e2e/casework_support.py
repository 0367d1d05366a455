"""Shared pieces of the casework browser tests: a citizen's answers to each demo form, filling
the question pages as a person would, and cases made straight through the domain for pages that
only need one to exist."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from townhall.core.auth import User
from townhall.core.db import transaction
from townhall.services.casework import actions, intake
from townhall.services.casework.catalogue import catalogue

from .e2e_support import LiveServer, e2e_settings

TODAY = dt.date.today()


def _date(name: str, day: dt.date) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


ADDRESS = {"address_line_1": "4 Mill Lane", "town": "Exampleton", "postcode": "SN1 1AA"}
# By field name, as typed into each form; radios and checkboxes by value (lists for checkboxes).
ANSWERS: dict[str, dict[str, Any]] = {
    "missed-bin": {
        "address_line_1": "7 Orchard Close",
        "postcode": "SN3 3BD",
        "bin_type": "general",
        **_date("collection_date", TODAY - dt.timedelta(days=1)),
        "bin_out_by_7am": "yes",
        "assisted_collection": "no",
        "email": "robin@example.com",
    },
    "blue-badge": {
        "full_name": "Morgan Example",
        **_date("date_of_birth", dt.date(1951, 3, 27)),
        **ADDRESS,
        "email": "morgan@example.com",
        "qualifying_benefits": ["none"],
        "terminal_illness": "no",
        "walking_distance": "under_50m",
        "condition_description": "Arthritis in both knees; I stop every few steps.",
    },
    "council-tax-reduction": {
        "full_name": "Sam Example",
        **_date("date_of_birth", dt.date(1984, 11, 2)),
        "ni_number": "AB123456C",
        **ADDRESS,
        "email": "sam@example.com",
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
        "zone": "B",
        "vehicle_registration": "CU57 ABC",
        "registered_keeper": "yes",
        "electric_vehicle": "no",
        "blue_badge_holder": "no",
        **_date("permit_start", TODAY),
    },
    "enquiry": {
        "question": "Can I have an extra recycling box?",
        "email": "jo@example.com",
        "postcode": "SN2 2BB",
    },
}
VERIFIERS = {form_id: str(answers["email"]) for form_id, answers in ANSWERS.items()}
# The team whose caseworkers decide each form (the forms' own `team`).
TEAMS = {
    "missed-bin": "waste",
    "blue-badge": "parking",
    "council-tax-reduction": "council-tax",
    "parking-permit": "parking",
    "enquiry": "customer-services",
}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return buffer.getvalue()


def fill_page(page: Page, answers: dict[str, Any]) -> None:
    """Answer what this page asks, from `answers`, as a person would: type, tick, choose."""
    for name, value in answers.items():
        inputs = page.locator(f'[name="{name}"]')
        if inputs.count() == 0:
            continue
        kind = inputs.first.get_attribute("type")
        if kind in ("radio", "checkbox"):
            for choice in value if isinstance(value, list) else [value]:
                page.locator(f'[name="{name}"][value="{choice}"]').check()
        else:
            inputs.first.fill(str(value))


def answer_questions(page: Page, server: LiveServer, form_id: str) -> None:
    """From the form's start page to its check-answers page, uploading a photo wherever a
    document is asked for."""
    page.goto(server.url(f"/apply/{form_id}"))
    page.get_by_role("button", name=re.compile("Start now|Continue your application")).click()
    for _ in range(30):
        if page.url.endswith("/check-answers"):
            return
        if "/evidence/" in page.url:
            page.set_input_files(
                "#file", files=[{"name": "document.png", "mimeType": "image/png", "buffer": png()}]
            )
        else:
            fill_page(page, ANSWERS[form_id])
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".govuk-error-summary")).to_have_count(0)
    raise AssertionError(f"{form_id}: never reached the check-answers page ({page.url})")


def send_form(page: Page) -> str:
    """Send from the check-answers page; returns the reference on the confirmation panel."""
    page.get_by_role("button", name="Accept and send").click()
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel).to_contain_text("Your reference number")
    found = re.search(r"[A-Z]{2,3}-\d{6}", panel.inner_text())
    assert found, panel.inner_text()
    return found.group(0)


CTR_API_ANSWERS = {
    "full_name": "Sam Example",
    "date_of_birth": "1984-11-02",
    "ni_number": "AB123456C",
    **ADDRESS,
    "email": "sam@example.com",
    "account_number": "40012345",
    "annual_council_tax": "1850.40",
    "lives_with_partner": "no",
    "children": "2",
    "passport_benefit": "universal_credit",
    "capital": "1200",
    "received_summons": "no",
}


def council_tax_case(server: LiveServer, *, outcome: str | None = None) -> str:
    """A Council Tax Reduction case (the e2e caseworker's team), decided if `outcome` is given."""
    settings = e2e_settings(server.engine.url.render_as_string(hide_password=False))
    with transaction(server.engine) as session:
        made = intake.submit(
            session,
            catalogue(settings),
            settings,
            form_id="council-tax-reduction",
            answers=CTR_API_ANSWERS,
            channel="api",
            actor="citizen",
        )
        assert made.submitted, made.errors
        if outcome is not None:
            worker = session.scalar(select(User).where(User.username == "e2e.caseworker"))
            assert worker is not None
            actions.decide(
                session,
                worker,
                made.case.reference,
                outcome=outcome,
                reason="Your savings are above the limit for this scheme.",
            )
        return made.case.reference
