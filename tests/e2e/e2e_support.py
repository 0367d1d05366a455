"""Shared pieces of the browser tests: a module, as ``conftest`` cannot be imported reliably."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, Page
from sqlalchemy import Engine, select

from townhall.core import auth, decisions
from townhall.core.db import transaction
from townhall.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"

SECRET = "e2e-secret-key-that-is-long-enough-" + "y" * 16
PASSWORD = "correct horse battery staple"
# One e2e user per staff role. Caseworkers and investigators sit in the Council Tax team so they
# can see (and review) the Council Tax decisions the tests create.
ROLES: dict[str, tuple[str, str | None]] = {
    "admin": ("e2e.admin", None),
    "caseworker": ("e2e.caseworker", "council-tax"),
    "investigator": ("e2e.investigator", "council-tax"),
    "analyst": ("e2e.analyst", None),
    "auditor": ("e2e.auditor", None),
}
DISPLAY_NAMES = {role: f"E2E {role.title()}" for role in ROLES}
NAV_TIMEOUT_MS = 10_000


def e2e_settings(database_url: str) -> Settings:
    """The same values as tests/conftest.py's make_settings, with quieter logs."""
    return Settings(
        secret_key=SECRET,
        database_url=database_url,
        environment="test",
        password_time_cost=1,
        password_memory_kib=1024,
        log_json=True,
        log_level="WARNING",
        # docs/ holds the example system card, so the transparency pages have a record to show.
        transparency_dir=Path(__file__).resolve().parents[2] / "docs",
        # Beside the throwaway database, never in the working tree's var/.
        casework_evidence_dir=Path(database_url.removeprefix("sqlite:///")).parent / "evidence",
    )


@dataclass
class LiveServer:
    base_url: str
    engine: Engine
    demo_logins: dict[str, str]
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_decision(self, label: str, *, team: str | None = "council-tax") -> tuple[str, str]:
        """A fresh proposed decision, so no test depends on another's leftovers.

        Returns (decision id, summary). The summary is unique, so a test can find its row.
        A decision with no team is visible to every role that reads decisions.
        """
        summary = f"E2E example: {label} {uuid.uuid4().hex[:8]}"
        with transaction(self.engine) as session:
            team_id = (
                None
                if team is None
                else session.scalar(select(auth.Team.id).where(auth.Team.slug == team))
            )
            record = decisions.record(
                session,
                service="council_tax",
                decision_type="council_tax.single_person_discount",
                subject_ref=f"e2e-subject-{uuid.uuid4().hex[:8]}",
                model_name="e2e-examples",
                model_version="fictional",
                inputs={"example": label},
                output={"outcome": "award", "options": ["award", "refuse", "ask for evidence"]},
                confidence=0.75,
                explanation={"reasons": [{"text": "Only one adult is named (example data)"}]},
                summary=summary,
                team_id=team_id,
            )
            return record.id, summary


def sign_in(
    page: Page, server: LiveServer, username: str, password: str, next_path: str | None = None
) -> None:
    """Sign in through the real form (works with or without JavaScript)."""
    path = "/sign-in" + (f"?next={next_path}" if next_path else "")
    page.goto(server.url(path))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


ContextFactory = Callable[..., BrowserContext]
PageFactory = Callable[..., Page]
