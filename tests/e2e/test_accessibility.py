"""Every reachable page, in every state a user can see, has no axe-core WCAG 2.2 AA violations."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, expect

from townhall.core import registry
from townhall.core.db import transaction
from townhall.core.jobs import JobRun

from .casework_support import answer_questions, council_tax_case, send_form
from .e2e_support import LiveServer, PageFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Every page title ends with the service and organisation, GOV.UK style.
TITLE_SUFFIX = " \N{EN DASH} Townhall \N{EN DASH} Exampleshire Council"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ANSWER_TIMEOUT_MS = 30_000
RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return {
    passes: results.passes.length,
    violations: results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
    })),
  };
}"""


def _goto(path: str, status: int = 200) -> Callable[[Page, LiveServer], None]:
    def visit(page: Page, server: LiveServer) -> None:
        response = page.goto(server.url(path))
        assert response is not None
        assert response.status == status, f"GET {path} gave {response.status}, not {status}"
        expect(page).to_have_url(server.url(path))

    return visit


def _sign_in_with_errors(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/sign-in"))
    page.get_by_label("Username").fill("nobody.here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your password")


def _review_detail(page: Page, server: LiveServer) -> None:
    decision_id, summary = server.new_decision("axe detail")
    page.goto(server.url(f"/review/{decision_id}"))
    expect(page.get_by_role("heading", level=1)).to_have_text(summary)
    expect(page.get_by_role("button", name="Accept suggestion")).to_be_visible()


def _review_detail_errors(page: Page, server: LiveServer) -> None:
    decision_id, _ = server.new_decision("axe errors")
    page.goto(server.url(f"/review/{decision_id}"))
    page.get_by_role("button", name="Override suggestion").click()
    summary_box = page.locator(".govuk-error-summary")
    expect(summary_box.get_by_role("link")).to_have_count(2)
    expect(summary_box).to_contain_text("Enter the reason for overriding this decision")
    expect(summary_box).to_contain_text("Enter the outcome you are choosing instead")


def _review_detail_accepted(page: Page, server: LiveServer) -> None:
    decision_id, _ = server.new_decision("axe accepted")
    page.goto(server.url(f"/review/{decision_id}"))
    page.get_by_role("button", name="Accept suggestion").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Decision accepted."
    )


def _review_detail_overridden(page: Page, server: LiveServer) -> None:
    decision_id, _ = server.new_decision("axe overridden")
    page.goto(server.url(f"/review/{decision_id}"))
    page.get_by_label("Outcome instead").select_option("refuse")
    page.get_by_label("Reason for overriding").fill("The applicant sent new evidence.")
    page.get_by_role("button", name="Override suggestion").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Decision overridden."
    )


def _review_queue_empty(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/review?service=no-such-service"))
    expect(page.get_by_text("There are no decisions here.")).to_be_visible()


def _token_created(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/account/tokens"))
    page.get_by_label("Name for a new token").fill("axe check")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text("Token created")
    expect(page.locator("tbody tr", has_text="axe check")).to_have_count(1)


def _token_errors(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/account/tokens"))
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Give the token a name")


def _users_with_errors(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/admin/users"))
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()


def _user_created(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/admin/users"))
    page.get_by_label("Username").fill("axe.newuser")
    page.get_by_label("Full name").fill("Axe New User")
    page.get_by_label("Password (at least 12 characters)").fill("a long enough passphrase")
    page.get_by_label("Team").select_option("waste")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "User axe.newuser created."
    )


def _new_model(server: LiveServer) -> int:
    with transaction(server.engine) as session:
        model = registry.register(
            session,
            name="axe-model",
            version=uuid.uuid4().hex[:8],
            training_data_digest=hashlib.sha256(b"axe").hexdigest(),
            metrics={"accuracy": 0.9},
            fairness={"verdict": "pass"},
        )
        return model.id


def _model_detail(page: Page, server: LiveServer) -> None:
    page.goto(server.url(f"/models/{_new_model(server)}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("axe-model")


def _model_detail_errors(page: Page, server: LiveServer) -> None:
    page.goto(server.url(f"/models/{_new_model(server)}"))
    page.get_by_role("button", name="Ask to make live").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("model card lacks")
    page.get_by_role("button", name="Withdraw model").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("reason for withdrawing")


def _fresh_chat(page: Page, server: LiveServer) -> None:
    """The assistant's chat with no conversation yet (the shared tab may hold an earlier one)."""
    page.context.clear_cookies()
    page.goto(server.url("/ask"))
    expect(page.locator("#ai-notice")).to_contain_text("uses artificial intelligence (AI)")


def _ask(page: Page, server: LiveServer, question: str) -> None:
    _fresh_chat(page, server)
    page.get_by_label("What do you want to know?").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    # The first question a server answers also builds its index: allow for that.
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator(".app-turn")).to_have_count(1)


def _assistant_answer(page: Page, server: LiveServer) -> None:
    _ask(page, server, "What day are bins collected in XS2?")
    expect(page.get_by_role("heading", name="Where this answer comes from")).to_be_visible()
    expect(page.locator(".app-turn ol a.govuk-link").first).to_have_attribute(
        "href", "https://www.exampleshire.gov.uk/bins-and-recycling/collection-days"
    )


def _assistant_refusal(page: Page, server: LiveServer) -> None:
    _ask(page, server, "How do I renew my passport?")
    expect(page.get_by_role("link", name="Ask a person about this")).to_be_visible()


def _assistant_person_errors(page: Page, server: LiveServer) -> None:
    page.context.clear_cookies()
    page.goto(server.url("/ask/person"))
    page.get_by_role("button", name="Send to a person").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the question you want a person to answer"
    )


def _assistant_person_sent(page: Page, server: LiveServer) -> None:
    page.context.clear_cookies()
    page.goto(server.url("/ask/person"))
    page.get_by_label("Your question").fill("Can I have an extra recycling box?")
    page.get_by_role("button", name="Send to a person").click()
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text("Your reference is")


def _assistant_ingest_errors(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/assistant"))
    page.get_by_label("A file of guidance").set_input_files(
        files=FilePayload(name="leaflet.exe", mimeType="application/octet-stream", buffer=b"MZ")
    )
    page.get_by_role("button", name="Add guidance").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The file must be HTML")


def _assistant_job(page: Page, server: LiveServer) -> None:
    run_id = uuid.uuid4().hex[:16]
    with transaction(server.engine) as session:
        session.add(
            JobRun(
                id=run_id,
                job="assistant.ingest",
                requested_by="e2e.analyst",
                params={"sources": ["leaflet.pdf"]},
                status="done",
                done=2,
                total=2,
                message="Done",
                result={
                    "added": 1,
                    "updated": 0,
                    "unchanged": 0,
                    "removed": 0,
                    "chunks": 3,
                    "duplicates": [],
                    "skipped": [["leaflet.pdf", "not a readable PDF"]],
                },
            )
        )
    page.goto(server.url(f"/assistant/jobs/{run_id}"))
    expect(page.get_by_role("heading", name="Files skipped")).to_be_visible()


def _fresh_citizen(page: Page, server: LiveServer, path: str) -> None:
    # The shared anonymous tab may hold another screen's draft: start without one.
    page.context.clear_cookies()
    page.goto(server.url(path))


def _apply_question_errors(page: Page, server: LiveServer) -> None:
    _fresh_citizen(page, server, "/apply/blue-badge/date-of-birth")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("1960")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("must be a real date")


def _apply_radios_errors(page: Page, server: LiveServer) -> None:
    _fresh_citizen(page, server, "/apply/missed-bin/bin-type")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select which bin was missed")


def _apply_checkboxes_errors(page: Page, server: LiveServer) -> None:
    _fresh_citizen(page, server, "/apply/blue-badge/qualifying-benefits")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select the benefits")


def _apply_address_errors(page: Page, server: LiveServer) -> None:
    _fresh_citizen(page, server, "/apply/parking-permit/address")
    page.get_by_label("Postcode").fill("not a postcode")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-message")).to_have_count(3)


def _apply_evidence_errors(page: Page, server: LiveServer) -> None:
    _fresh_citizen(page, server, "/apply/missed-bin/address")
    page.get_by_label("Address line 1").fill("7 Orchard Close")
    page.get_by_label("Postcode").fill("SN3 3BD")
    page.get_by_role("button", name="Continue").click()
    page.goto(server.url("/apply/missed-bin/evidence/photo"))
    page.set_input_files(
        "#file", files=[{"name": "bin.pdf", "mimeType": "application/pdf", "buffer": b"text"}]
    )
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("is not a real PDF")


def _apply_check_answers(page: Page, server: LiveServer) -> None:
    page.context.clear_cookies()
    answer_questions(page, server, "missed-bin")
    expect(page.get_by_role("link", name="Change bin", exact=True)).to_be_visible()


def _apply_confirmation(page: Page, server: LiveServer) -> None:
    page.context.clear_cookies()
    answer_questions(page, server, "enquiry")
    send_form(page)


def _case_status_unknown(page: Page, server: LiveServer) -> None:
    page.goto(server.url("/case-status"))
    page.get_by_label("Reference number").fill("MB-999999")
    page.get_by_role("button", name="Check progress").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("There is no case MB-999999")


def _case_status_refused(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server, outcome="refuse")
    page.goto(server.url("/case-status"))
    page.get_by_label("Reference number").fill(reference)
    page.get_by_label("Postcode or email address (optional)").fill("sam@example.com")
    page.get_by_role("button", name="Check progress").click()
    expect(page.get_by_role("button", name="Ask for a review")).to_be_visible()


def _case_status_review_errors(page: Page, server: LiveServer) -> None:
    _case_status_refused(page, server)
    page.get_by_role("button", name="Ask for a review").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why you think")


def _case_status_progress_only(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server, outcome="refuse")
    page.goto(server.url("/case-status"))
    page.get_by_label("Reference number").fill(reference)
    page.get_by_role("button", name="Check progress").click()
    expect(page.get_by_role("heading", name="If you disagree with this decision")).to_be_visible()


def _casework_case(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server)
    page.goto(server.url(f"/casework/cases/{reference}"))
    expect(page.get_by_role("heading", name="What the rules suggest")).to_be_visible()


def _casework_decide_errors(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server)
    page.goto(server.url(f"/casework/cases/{reference}/decide"))
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".govuk-error-summary a")).to_have_count(2)


def _casework_request_errors(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server)
    page.goto(server.url(f"/casework/cases/{reference}/request-information"))
    page.get_by_role("button", name="Send request").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter what you need")


def _casework_decided(page: Page, server: LiveServer) -> None:
    reference = council_tax_case(server)
    page.goto(server.url(f"/casework/cases/{reference}/decide"))
    page.get_by_label("Approve", exact=True).check()
    page.get_by_label("Reason for your decision").fill("Meets the income rules.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()


@dataclass(frozen=True)
class Screen:
    name: str
    role: str | None
    visit: Callable[[Page, LiveServer], None]


SCREENS = [
    # Public pages.
    Screen("start", None, _goto("/")),
    Screen("cookies", None, _goto("/cookies")),
    Screen("privacy", None, _goto("/privacy")),
    Screen("accessibility", None, _goto("/accessibility")),
    Screen("sign-in", None, _goto("/sign-in")),
    Screen("sign-in-missing-password", None, _sign_in_with_errors),
    Screen("not-found", None, _goto("/no-such-page", 404)),
    Screen("transparency-register", None, _goto("/transparency")),
    Screen("transparency-record", None, _goto("/transparency/missed-bin-triage")),
    Screen("assistant-chat-empty", None, _fresh_chat),
    Screen("assistant-chat-answer", None, _assistant_answer),
    Screen("assistant-chat-refusal", None, _assistant_refusal),
    Screen("assistant-person-errors", None, _assistant_person_errors),
    Screen("assistant-person-sent", None, _assistant_person_sent),
    Screen("apply-start", None, _goto("/apply")),
    Screen("apply-form-start", None, _goto("/apply/blue-badge")),
    Screen("apply-question-text", None, _goto("/apply/blue-badge/name")),
    Screen("apply-question-money", None, _goto("/apply/council-tax-reduction/bill")),
    Screen("apply-question-textarea", None, _goto("/apply/enquiry/question")),
    Screen("apply-question-date-errors", None, _apply_question_errors),
    Screen("apply-question-radios-errors", None, _apply_radios_errors),
    Screen("apply-question-checkboxes-errors", None, _apply_checkboxes_errors),
    Screen("apply-question-several-errors", None, _apply_address_errors),
    Screen("apply-evidence-errors", None, _apply_evidence_errors),
    Screen("apply-check-answers", None, _apply_check_answers),
    Screen("apply-confirmation", None, _apply_confirmation),
    Screen("case-status", None, _goto("/case-status")),
    Screen("case-status-unknown", None, _case_status_unknown),
    Screen("case-status-progress-only", None, _case_status_progress_only),
    Screen("case-status-refused", None, _case_status_refused),
    Screen("case-status-review-errors", None, _case_status_review_errors),
    # Staff pages, each as a role that may see it.
    Screen("staff-home-caseworker", "caseworker", _goto("/staff")),
    Screen("staff-home-admin", "admin", _goto("/staff")),
    Screen("review-queue", "caseworker", _goto("/review")),
    Screen("review-queue-empty", "caseworker", _review_queue_empty),
    Screen("review-queue-all-statuses", "auditor", _goto("/review?status=accepted")),
    Screen("review-detail", "caseworker", _review_detail),
    Screen("review-detail-errors", "caseworker", _review_detail_errors),
    Screen("review-detail-accepted", "caseworker", _review_detail_accepted),
    Screen("review-detail-overridden", "investigator", _review_detail_overridden),
    Screen("audit-log", "auditor", _goto("/audit")),
    Screen("model-registry", "auditor", _goto("/models")),
    Screen("data-rights", "auditor", _goto("/data-rights")),
    Screen("fairness", "analyst", _goto("/fairness")),
    Screen("privacy-scan", "analyst", _goto("/privacy-scan")),
    Screen("anonymised-export", "analyst", _goto("/exports")),
    Screen("fairness-errors", "analyst", _goto("/fairness?positive=x", 422)),
    Screen("data-rights-found", "auditor", _goto("/data-rights?subject=demo-subject-0003")),
    Screen("model-detail", "analyst", _model_detail),
    Screen("model-detail-errors", "analyst", _model_detail_errors),
    Screen("assistant-staff", "analyst", _goto("/assistant")),
    Screen("casework-queue", "caseworker", _goto("/casework/queue")),
    Screen("casework-queue-filtered", "caseworker", _goto("/casework/queue?priority=low")),
    Screen("casework-case", "caseworker", _casework_case),
    Screen("casework-decide-errors", "caseworker", _casework_decide_errors),
    Screen("casework-request-errors", "caseworker", _casework_request_errors),
    Screen("casework-decided", "caseworker", _casework_decided),
    Screen("casework-dashboard", "analyst", _goto("/casework/dashboard")),
    Screen("assistant-staff-errors", "analyst", _assistant_ingest_errors),
    Screen("assistant-gaps", "analyst", _goto("/assistant/gaps")),
    Screen("assistant-job", "analyst", _assistant_job),
    Screen("admin-users", "admin", _goto("/admin/users")),
    Screen("admin-users-errors", "admin", _users_with_errors),
    Screen("admin-user-created", "admin", _user_created),
    Screen("account-tokens", "analyst", _goto("/account/tokens")),
    Screen("account-token-created", "analyst", _token_created),
    Screen("account-tokens-errors", "analyst", _token_errors),
    Screen("forbidden", "analyst", _goto("/admin/users", 403)),
    Screen("not-found-signed-in", "caseworker", _goto("/review/no-such-decision", 404)),
]


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    at {node['target']}")
            if node["summary"]:
                lines.extend("      " + line for line in node["summary"].splitlines())
    return "\n".join(lines)


@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_page_has_no_axe_violations(
    open_page: PageFactory, live_server: LiveServer, axe_source: Path, screen: Screen
) -> None:
    # The app's CSP forbids injected scripts; bypass it only so axe-core can be added.
    page = open_page(screen.role, bypass_csp=True)
    screen.visit(page, live_server)
    # Every page is a full GOV.UK page, not a fallback: it has a language, a title and a main.
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main#main-content")).to_have_count(1)
    assert page.title().endswith(TITLE_SUFFIX), page.title()
    if screen.role is not None:
        expect(page.get_by_text("Signed in as")).to_be_visible()

    page.add_script_tag(path=str(axe_source))
    results = page.evaluate(RUN_AXE, WCAG_TAGS)
    assert results["passes"] > 0, "axe-core ran no checks: was it injected?"
    violations = results["violations"]
    assert not violations, (
        f"{len(violations)} accessibility violation(s) on {screen.name} ({page.url}):\n"
        + _describe(violations)
    )


def test_axe_check_catches_a_broken_page(
    open_page: PageFactory, live_server: LiveServer, axe_source: Path
) -> None:
    """A control: the same check fails a page with an unlabelled field and an empty link."""
    page = open_page(None, bypass_csp=True)
    page.goto(live_server.url("/sign-in"))
    page.evaluate("""() => {
      document.querySelector('label[for=username]').remove();
      document.querySelector('main').insertAdjacentHTML('beforeend', '<a href="/"></a>');
    }""")
    page.add_script_tag(path=str(axe_source))
    results = page.evaluate(RUN_AXE, WCAG_TAGS)
    found = {v["id"] for v in results["violations"]}
    assert {"label", "link-name"} <= found, _describe(results["violations"])
