"""Staff journeys through the real server in a real browser, with and without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .e2e_support import (
    DISPLAY_NAMES,
    PASSWORD,
    ContextFactory,
    LiveServer,
    PageFactory,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _status_row(page: Page) -> Locator:
    return page.locator(".govuk-summary-list__row", has_text="Status").locator("dd")


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_caseworker_reviews_a_decision_and_signs_out(
    new_context: ContextFactory, live_server: LiveServer, javascript: bool
) -> None:
    decision_id, summary = live_server.new_decision("journey")
    page = new_context(javascript=javascript).new_page()

    # JavaScript really is on or off: townhall.js marks the body when it runs.
    page.goto(live_server.url("/"))
    body_classes = page.locator("body").get_attribute("class") or ""
    assert ("js-enabled" in body_classes) is javascript, body_classes

    # Sign in from the start page.
    page.get_by_role("link", name="Sign in to the staff service").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("Username").fill("e2e.caseworker")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The staff home, with the caseworker's cards only.
    expect(page).to_have_url(live_server.url("/staff"))
    expect(page).to_have_title(re.compile("^Staff home \N{EN DASH} Townhall"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")
    expect(
        page.get_by_text(f"Signed in as {DISPLAY_NAMES['caseworker']} (caseworker)")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Decisions to review")).to_be_visible()
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)

    # The review queue lists the new decision as proposed.
    page.get_by_role("link", name="Decisions to review").click()
    expect(page).to_have_url(live_server.url("/review"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Decisions to review")
    row = page.locator("tbody tr", has_text=summary)
    expect(row).to_have_count(1)
    expect(row.locator(".govuk-tag")).to_have_text("Proposed")

    # Open it.
    row.get_by_role("link").click()
    expect(page).to_have_url(live_server.url(f"/review/{decision_id}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(summary)
    expect(_status_row(page)).to_have_text("Proposed")

    # Override without a reason: a GOV.UK error summary, and nothing changes.
    page.get_by_label("Outcome instead").select_option("refuse")
    page.get_by_role("button", name="Override suggestion").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary_box = page.locator(".govuk-error-summary")
    expect(summary_box).to_be_visible()
    expect(summary_box.get_by_role("heading")).to_have_text("There is a problem")
    error_link = summary_box.get_by_role(
        "link", name="Enter the reason for overriding this decision"
    )
    expect(error_link).to_have_attribute("href", "#reason")
    expect(page.locator("#reason-error")).to_contain_text(
        "Enter the reason for overriding this decision"
    )
    expect(page.get_by_label("Reason for overriding")).to_have_attribute(
        "aria-describedby", re.compile(r"\breason-error\b")
    )
    # The chosen outcome is kept for the second attempt.
    expect(page.get_by_label("Outcome instead")).to_have_value("refuse")
    expect(_status_row(page)).to_have_text("Proposed")
    if javascript:
        # GOV.UK Frontend moves focus to the summary, and its links to the field.
        expect(summary_box).to_be_focused()
        error_link.click()
        expect(page.get_by_label("Reason for overriding")).to_be_focused()

    # The queue still has it as proposed (nothing was saved).
    page.goto(live_server.url("/review"))
    expect(page.locator("tbody tr", has_text=summary)).to_have_count(1)
    page.goto(live_server.url(f"/review/{decision_id}"))

    # Accept it: a success banner and the Accepted status; the forms are gone.
    page.get_by_role("button", name="Accept suggestion").click()
    expect(page).to_have_url(live_server.url(f"/review/{decision_id}?done=accepted"))
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Success")
    expect(banner).to_contain_text("Decision accepted.")
    expect(_status_row(page)).to_have_text("Accepted")
    expect(
        page.locator(".govuk-summary-list__row", has_text="Final outcome").locator("dd")
    ).to_have_text("award")
    expect(page.get_by_role("button", name="Accept suggestion")).to_have_count(0)
    expect(page.get_by_role("button", name="Override suggestion")).to_have_count(0)

    # It has left the proposed queue.
    page.goto(live_server.url("/review"))
    expect(page.locator("tbody tr", has_text=summary)).to_have_count(0)

    # Sign out: back to the start page, and staff pages ask for sign-in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Exampleshire Council online services"
    )
    expect(page.get_by_role("link", name="Staff sign in")).to_be_visible()
    page.goto(live_server.url("/staff"))
    expect(page).to_have_url(live_server.url("/sign-in?next=/staff"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_sign_in_returns_to_the_page_asked_for(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    page = new_context().new_page()
    page.goto(live_server.url("/review"))
    expect(page).to_have_url(live_server.url("/sign-in?next=/review"))
    page.get_by_label("Username").fill("e2e.investigator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url("/review"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Decisions to review")


def test_demo_login_works(new_context: ContextFactory, live_server: LiveServer) -> None:
    """load_demo's fresh passwords sign the demo staff in."""
    page = new_context().new_page()
    sign_in(page, live_server, "caseworker", live_server.demo_logins["caseworker"])
    expect(page).to_have_url(live_server.url("/staff"))
    expect(page.get_by_text("Signed in as Casey Worker (demo) (caseworker)")).to_be_visible()
    # The demo caseworker is in Council Tax: they see its example decisions.
    page.goto(live_server.url("/review"))
    expect(
        page.get_by_role("link", name=re.compile(r"^Example: single person discount application"))
    ).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Example: missed bin report"))).to_have_count(
        0
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_wrong_password_shows_error_summary(
    new_context: ContextFactory, live_server: LiveServer, javascript: bool
) -> None:
    page = new_context(javascript=javascript).new_page()
    page.goto(live_server.url("/sign-in"))
    page.get_by_label("Username").fill("e2e.analyst")
    page.get_by_label("Password").fill("not the right password at all")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 401

    expect(page).to_have_url(live_server.url("/sign-in"))
    expect(page).to_have_title(re.compile(r"^Error: Sign in"))
    summary_box = page.locator(".govuk-error-summary")
    expect(summary_box).to_be_visible()
    expect(summary_box).to_contain_text("There is a problem")
    link = summary_box.get_by_role("link", name="The username or password is not right")
    expect(link).to_have_attribute("href", "#username")
    expect(page.locator("#username-error")).to_contain_text("The username or password is not right")
    # The username is kept; the password never is.
    expect(page.get_by_label("Username")).to_have_value("e2e.analyst")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_text("Signed in as")).to_have_count(0)

    # Still signed out.
    page.goto(live_server.url("/staff"))
    expect(page).to_have_url(live_server.url("/sign-in?next=/staff"))


def test_empty_sign_in_names_both_fields(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url("/sign-in"))
    page.get_by_role("button", name="Sign in").click()
    summary_box = page.locator(".govuk-error-summary")
    expect(summary_box.get_by_role("link")).to_have_text(
        ["Enter your username", "Enter your password"]
    )
    expect(page.locator("#password-error")).to_contain_text("Enter your password")


# (role, path, expected HTTP status, text that must be on the page)
ACCESS = [
    ("analyst", "/admin/users", 403, "You do not have permission to see this page"),
    ("analyst", "/audit", 403, "You do not have permission to see this page"),
    ("analyst", "/review", 200, "Decisions to review"),
    ("analyst", "/account/tokens", 200, "API tokens"),
    ("caseworker", "/audit", 403, "You do not have permission to see this page"),
    ("caseworker", "/admin/users", 403, "You do not have permission to see this page"),
    ("investigator", "/admin/users", 403, "You do not have permission to see this page"),
    ("investigator", "/review", 200, "Decisions to review"),
    ("auditor", "/audit", 200, "Audit log"),
    ("auditor", "/admin/users", 403, "You do not have permission to see this page"),
    ("admin", "/admin/users", 200, "Users"),
    ("admin", "/audit", 200, "Audit log"),
]


@pytest.mark.parametrize(
    ("role", "path", "status", "heading"),
    ACCESS,
    ids=[f"{r}-{p.strip('/').replace('/', '-')}-{s}" for r, p, s, _ in ACCESS],
)
def test_each_role_sees_only_what_it_may(
    open_page: PageFactory, live_server: LiveServer, role: str, path: str, status: int, heading: str
) -> None:
    page = open_page(role)
    response = page.goto(live_server.url(path))
    assert response is not None
    assert response.status == status, f"{role} on {path}: {response.status}"
    expect(page).to_have_url(live_server.url(path))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_text(f"Signed in as {DISPLAY_NAMES[role]} ({role})")).to_be_visible()


# The staff home's cards and the navigation follow the role's permissions.
HOME = {
    "admin": {
        "Casework",
        "Decisions to review",
        "Audit log",
        "Model registry",
        "Fairness audits",
        "Subject access and erasure",
        "Scan a file for personal data",
        "Make an anonymised export",
        "Users",
        "API tokens",
        "Citizen assistant",
    },
    "caseworker": {"Casework", "Decisions to review", "API tokens"},
    "investigator": {"Decisions to review", "API tokens"},
    "analyst": {
        "Casework",
        "Decisions to review",
        "Model registry",
        "Fairness audits",
        "Scan a file for personal data",
        "Make an anonymised export",
        "API tokens",
        "Citizen assistant",
    },
    "auditor": {
        "Casework",
        "Decisions to review",
        "Audit log",
        "Model registry",
        "Fairness audits",
        "Subject access and erasure",
        "Scan a file for personal data",
        "Make an anonymised export",
        "API tokens",
    },
}
NAV = {
    "admin": ["Home", "Citizen assistant", "Casework", "Review", "Models", "Audit", "Sign out"],
    "caseworker": ["Home", "Casework", "Review", "Sign out"],
    "investigator": ["Home", "Review", "Sign out"],
    "analyst": ["Home", "Citizen assistant", "Casework", "Review", "Models", "Sign out"],
    "auditor": ["Home", "Casework", "Review", "Models", "Audit", "Sign out"],
}


@pytest.mark.parametrize("role", list(HOME))
def test_staff_home_shows_only_permitted_cards(
    open_page: PageFactory, live_server: LiveServer, role: str
) -> None:
    page = open_page(role)
    page.goto(live_server.url("/staff"))
    cards = page.locator(".app-card h2").all_inner_texts()
    assert set(cards) == HOME[role], cards
    nav = page.get_by_role("navigation", name="Menu")
    items = [text.strip() for text in nav.locator("li").all_inner_texts()]
    assert items == NAV[role], items
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")


def test_auditor_sees_intact_audit_log_and_cannot_review(
    open_page: PageFactory, live_server: LiveServer
) -> None:
    decision_id, summary = live_server.new_decision("auditor view")
    page = open_page("auditor")
    response = page.goto(live_server.url("/audit"))
    assert response is not None and response.status == 200
    expect(page.locator(".govuk-inset-text")).to_contain_text("The log is intact")
    expect(page.locator(".govuk-inset-text")).to_contain_text("intact: all")
    expect(page.locator(".govuk-warning-text")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="decision.recorded").first).to_be_visible()

    # Auditors read decisions but change nothing: no review forms.
    page.goto(live_server.url(f"/review/{decision_id}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(summary)
    expect(page.get_by_role("button", name="Accept suggestion")).to_have_count(0)
    expect(page.get_by_role("button", name="Override suggestion")).to_have_count(0)


def test_analyst_cannot_accept_by_posting(open_page: PageFactory, live_server: LiveServer) -> None:
    """Even a hand-made form post is refused for a role without decisions:review."""
    decision_id, _ = live_server.new_decision("analyst post", team=None)
    page = open_page("analyst")
    context = page.context
    page.goto(live_server.url("/account/tokens"))
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    response = context.request.post(
        live_server.url(f"/review/{decision_id}/accept"),
        form={"csrf_token": token},
        max_redirects=0,
    )
    assert response.status == 403
    # The analyst can read it, but it is still proposed and offers no review forms.
    page.goto(live_server.url(f"/review/{decision_id}"))
    expect(_status_row(page)).to_have_text("Proposed")
    expect(page.get_by_role("button", name="Accept suggestion")).to_have_count(0)


def test_caseworker_cannot_see_another_teams_decision(
    open_page: PageFactory, live_server: LiveServer
) -> None:
    decision_id, _ = live_server.new_decision("waste team", team="waste")
    page = open_page("caseworker")
    response = page.goto(live_server.url(f"/review/{decision_id}"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_text("No such decision, or it belongs to another team.")).to_be_visible()


def test_admin_adds_a_user_who_can_sign_in(
    open_page: PageFactory, new_context: ContextFactory, live_server: LiveServer
) -> None:
    page = open_page("admin")
    page.goto(live_server.url("/admin/users"))
    page.get_by_label("Username").fill("e2e.newcomer")
    page.get_by_label("Full name").fill("New Comer")
    page.get_by_label("Password (at least 12 characters)").fill("a long enough passphrase")
    page.get_by_label("Role").select_option("analyst")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "User e2e.newcomer created."
    )
    expect(page.locator("tbody tr", has_text="e2e.newcomer")).to_contain_text("analyst")

    fresh = new_context().new_page()
    sign_in(fresh, live_server, "e2e.newcomer", "a long enough passphrase")
    expect(fresh).to_have_url(live_server.url("/staff"))
    expect(fresh.get_by_text("Signed in as New Comer (analyst)")).to_be_visible()


def test_api_token_is_shown_once_and_can_be_revoked(
    open_page: PageFactory, new_context: ContextFactory, live_server: LiveServer
) -> None:
    page = open_page("investigator")
    page.goto(live_server.url("/account/tokens"))
    page.get_by_label("Name for a new token").fill("nightly export")
    page.get_by_role("button", name="Create token").click()
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel).to_contain_text("Token created")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("th_") and len(token) > 20

    # The token alone (no session cookie) works against the API as the investigator.
    client = new_context().request
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    api = client.get(live_server.url("/api/v1/me"), headers=bearer)
    assert api.status == 200, api.text()
    assert api.json()["username"] == "e2e.investigator"

    page.get_by_role("button", name="Revoke nightly export").click()
    expect(page).to_have_url(live_server.url("/account/tokens"))
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="nightly export")).to_contain_text("Revoked")
    api = client.get(live_server.url("/api/v1/me"), headers=bearer)
    assert api.status == 401, api.text()
