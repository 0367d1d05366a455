"""For each demo form: a citizen sends it, a caseworker of the owning team decides it, and the
citizen sees the outcome on the status page. Citizens browse with JavaScript off, as the pages
must work without it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from townhall.core import auth
from townhall.core.db import transaction
from townhall.core.permissions import Role
from townhall.services.casework.models import Case

from .casework_support import TEAMS, VERIFIERS, answer_questions, send_form
from .e2e_support import PASSWORD, ContextFactory, LiveServer, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# The outcome each journey records: one refusal, so the review request is walked too.
OUTCOMES = {
    "missed-bin": "refuse",
    "blue-badge": "approve",
    "council-tax-reduction": "approve",
    "parking-permit": "refer",
    "enquiry": "approve",
}
OUTCOME_LABELS = {"approve": "Approve", "refuse": "Refuse", "refer": "Refer"}


@pytest.fixture(scope="module")
def team_workers(live_server: LiveServer) -> dict[str, str]:
    """One caseworker per team that owns a demo form (the e2e caseworker sits in Council Tax)."""
    names = {}
    with transaction(live_server.engine) as session:
        for team_slug in sorted(set(TEAMS.values())):
            username = f"e2e.casework.{team_slug}"
            if session.scalar(select(auth.User).where(auth.User.username == username)) is None:
                auth.create_user(
                    session,
                    username=username,
                    password=PASSWORD,
                    role=Role.CASEWORKER,
                    display_name=f"E2E {team_slug} caseworker",
                    teams=[auth.team_by_slug(session, team_slug)],
                    hasher=auth.password_hasher(1, 1024),
                )
            names[team_slug] = username
    return names


def _decide(page: Page, server: LiveServer, reference: str, team: str, outcome: str) -> None:
    page.goto(server.url(f"/casework/queue?team={team}"))
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    expect(page.get_by_role("heading", name="What the rules suggest")).to_be_visible()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("assigned to you")
    page.get_by_role("button", name="Decide").click()
    # A decision without a reason is refused, and the choice made is kept.
    page.get_by_label(OUTCOME_LABELS[outcome], exact=True).check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the reason for your decision"
    )
    expect(page.get_by_label(OUTCOME_LABELS[outcome], exact=True)).to_be_checked()
    page.get_by_label("Reason for your decision").fill(f"Checked against the policy: {outcome}.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Your decision has been recorded"
    )


def _check_status(page: Page, server: LiveServer, reference: str, verifier: str) -> None:
    page.goto(server.url("/case-status"))
    page.get_by_label("Reference number").fill(reference)
    page.get_by_label("Postcode or email address (optional)").fill(verifier)
    page.get_by_role("button", name="Check progress").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Your case {reference}")


@pytest.mark.parametrize("form_id", sorted(TEAMS))
def test_a_citizen_applies_a_caseworker_decides_and_the_citizen_sees_the_outcome(
    new_context: ContextFactory,
    live_server: LiveServer,
    team_workers: dict[str, str],
    form_id: str,
) -> None:
    citizen = new_context(javascript=False).new_page()
    answer_questions(citizen, live_server, form_id)
    expect(citizen.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before sending"
    )
    reference = send_form(citizen)

    worker = new_context().new_page()
    team = TEAMS[form_id]
    sign_in(worker, live_server, team_workers[team], PASSWORD)
    outcome = OUTCOMES[form_id]
    _decide(worker, live_server, reference, team, outcome)

    _check_status(citizen, live_server, reference, VERIFIERS[form_id])
    summary = citizen.locator(".govuk-summary-list")
    expect(summary).to_contain_text("Decision made")
    expect(summary).to_contain_text(f"Checked against the policy: {outcome}.")
    with transaction(live_server.engine) as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None and case.outcome == outcome and case.status == "decided"

    if outcome == "refuse":
        expect(
            citizen.get_by_role("heading", name="If you disagree with this decision")
        ).to_be_visible()
        citizen.get_by_label("Why do you think the decision is wrong?").fill(
            "The bin was out at 6am; my neighbour saw it."
        )
        citizen.get_by_role("button", name="Ask for a review").click()
        panel = citizen.locator(".govuk-panel--confirmation")
        expect(panel).to_contain_text("Review requested")
        with transaction(live_server.engine) as session:
            original = session.scalar(select(Case).where(Case.reference == reference))
            assert original is not None
            review = session.scalar(select(Case).where(Case.appeal_of_id == original.id))
            assert review is not None and review.priority == "high"
        expect(panel).to_contain_text(review.reference)
