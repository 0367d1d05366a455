"""Every reachable page, in every state a user can see, has no axe-core WCAG 2.2 AA violations."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from townhall.core import registry
from townhall.core.db import transaction

from .e2e_support import LiveServer, PageFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Every page title ends with the service and organisation, GOV.UK style.
TITLE_SUFFIX = " \N{EN DASH} Townhall \N{EN DASH} Exampleshire Council"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
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
