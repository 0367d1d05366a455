"""The demo organisation: Exampleshire Council, a fictional council written by this project.

Loading is idempotent: teams, users and example decisions are created once; each run gives the
demo staff fresh random passwords, which the caller prints.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit, auth, decisions
from townhall.core.permissions import Role

TEAMS = (
    ("council-tax", "Council Tax", "Bills, discounts, exemptions and Council Tax Reduction."),
    ("housing-benefit", "Housing Benefit", "Housing Benefit claims and changes of circumstance."),
    ("waste", "Waste and Recycling", "Bin collections, missed bins, bulky waste and fly-tipping."),
    ("parking", "Parking", "Permits, Blue Badges and penalty charge notices."),
    ("planning", "Planning", "Planning applications, building control and enforcement."),
    ("housing", "Housing Options", "Homelessness, housing register, repairs and adaptations."),
    ("education", "Schools and Admissions", "School places, transport and free school meals."),
    (
        "customer-services",
        "Customer Services",
        "General enquiries, registrations, highways and street lighting, complaints.",
    ),
    # Messages the router was unsure of, found out of scope or signposted to another council: a
    # person sends each to the right team (settings.routing_triage_team).
    ("triage", "Message Triage", "Messages the router could not place with confidence."),
    ("counter-fraud", "Counter Fraud", "Investigations into fraud and error against the council."),
)

# username, display name, role, team slug (None: no team)
STAFF = (
    ("admin", "Alex Admin (demo)", Role.ADMIN, None),
    ("caseworker", "Casey Worker (demo)", Role.CASEWORKER, "council-tax"),
    ("waste.officer", "Robin Recycling (demo)", Role.CASEWORKER, "waste"),
    ("investigator", "Indy Investigator (demo)", Role.INVESTIGATOR, "counter-fraud"),
    ("analyst", "Ana Lyst (demo)", Role.ANALYST, None),
    ("auditor", "Audrey Auditor (demo)", Role.AUDITOR, None),
)

# Illustrative proposed decisions so the review queue can be tried before any service is loaded.
# They are labelled as examples in every field a reviewer sees.
EXAMPLE_DECISIONS = (
    (
        "council-tax",
        "council_tax.single_person_discount",
        "demo-subject-0001",
        "Example: single person discount application",
        "award",
        ["award", "refuse", "ask for evidence"],
        0.91,
        [
            "Only one adult is named on the application",
            "The electoral register lists one adult at the address (example data)",
        ],
    ),
    (
        "council-tax",
        "council_tax.single_person_discount",
        "demo-subject-0002",
        "Example: single person discount review",
        "ask for evidence",
        ["award", "refuse", "ask for evidence"],
        0.58,
        [
            "A second adult is registered at the address (example data)",
            "The application says the second adult moved out last month",
        ],
    ),
    (
        "waste",
        "waste.missed_bin_priority",
        "demo-subject-0003",
        "Example: missed bin report, assisted collection",
        "urgent",
        ["urgent", "routine"],
        0.87,
        [
            "The household is on the assisted collection list (example data)",
            "This is the second missed collection in four weeks",
        ],
    ),
)

# Letters and digits only, so a printed password never starts with "-" or hides in punctuation.
PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    team: str


def load_demo(session: Session, hasher: PasswordHasher) -> list[DemoLogin]:
    teams: dict[str, auth.Team] = {}
    for slug, name, description in TEAMS:
        team = session.scalar(select(auth.Team).where(auth.Team.slug == slug))
        if team is None:
            team = auth.Team(slug=slug, name=name, description=description)
            session.add(team)
            session.flush()
            audit.log(session, audit.SYSTEM, "team.created", f"team:{team.id}", {"slug": slug})
        teams[slug] = team

    logins = []
    for username, display_name, role, team_slug in STAFF:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))
        user = session.scalar(select(auth.User).where(auth.User.username == username))
        member_of = [teams[team_slug]] if team_slug else []
        if user is None:
            user = auth.create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                teams=member_of,
                hasher=hasher,
            )
            audit.log(
                session, audit.SYSTEM, "user.created", f"user:{user.id}", {"role": role.value}
            )
        else:
            auth.set_password(session, user, password, hasher)
            audit.log(session, audit.SYSTEM, "user.password_reset", f"user:{user.id}")
        logins.append(
            DemoLogin(username, password, role.value, teams[team_slug].name if team_slug else "-")
        )

    existing = session.scalar(
        select(decisions.DecisionRecord.id).where(
            decisions.DecisionRecord.model_name == "demo-examples"
        )
    )
    if existing is None:
        for (
            slug,
            dtype,
            subject,
            summary,
            outcome,
            options,
            confidence,
            reasons,
        ) in EXAMPLE_DECISIONS:
            decisions.record(
                session,
                service=dtype.split(".")[0],
                decision_type=dtype,
                subject_ref=subject,
                model_name="demo-examples",
                model_version="fictional",
                inputs={"example": subject},
                output={"outcome": outcome, "options": options},
                confidence=confidence,
                explanation={"reasons": [{"text": r} for r in reasons]},
                summary=summary,
                team_id=teams[slug].id,
            )
    return logins
