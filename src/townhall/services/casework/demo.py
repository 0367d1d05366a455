"""Demo cases for Exampleshire Council: a handful of applications in every state, loaded once.

All names, addresses and numbers are made up (the 07700 900xxx phone numbers are Ofcom's range
for drama). Dates are relative to today, so the service level clocks show a mix of on time,
due soon and breached whenever the demo is loaded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core.auth import User
from townhall.core.db import utcnow
from townhall.services.casework import actions
from townhall.services.casework.catalogue import catalogue
from townhall.services.casework.channels import submit_csv
from townhall.services.casework.evidence import store
from townhall.services.casework.intake import submit
from townhall.services.casework.models import Case
from townhall.services.casework.pdf_forms import printed_pdf
from townhall.settings import Settings

DEMO = "demo"


def _days(n: int) -> str:
    return (dt.date.today() - dt.timedelta(days=n)).isoformat()


def _blue_badge(name: str, benefits: list[str], **more: Any) -> dict[str, Any]:
    return {
        "full_name": f"{name} (demo)",
        "date_of_birth": "1951-03-27",
        "address_line_1": "4 Mill Lane",
        "town": "Exampleton",
        "postcode": "SN1 1AA",
        "email": "morgan.demo@example.com",
        "phone": "07700 900123",
        "qualifying_benefits": benefits,
        "terminal_illness": "no",
        **more,
    }


def _ctr(name: str, **more: Any) -> dict[str, Any]:
    return {
        "full_name": f"{name} (demo)",
        "date_of_birth": "1984-11-02",
        "ni_number": "AB123456C",
        "address_line_1": "12 Station Road",
        "town": "Exampleton",
        "postcode": "SN2 2BB",
        "email": "sam.demo@example.com",
        "account_number": "40012345",
        "annual_council_tax": "1850.40",
        "lives_with_partner": "no",
        "children": "2",
        "passport_benefit": "none",
        "weekly_income": "310",
        "capital": "1200",
        "received_summons": "no",
        **more,
    }


def _missed_bin(days_ago: int, **more: Any) -> dict[str, Any]:
    return {
        "address_line_1": "7 Orchard Close",
        "postcode": "SN3 3BD",
        "bin_type": "recycling",
        "collection_date": _days(days_ago),
        "bin_out_by_7am": "yes",
        "assisted_collection": "no",
        "email": "robin.demo@example.com",
        **more,
    }


def _permit(name: str, line: str, **more: Any) -> dict[str, Any]:
    return {
        "full_name": f"{name} (demo)",
        "address_line_1": line,
        "town": "Exampleton",
        "postcode": "SN1 4DD",
        "email": "alex.demo@example.com",
        "zone": "A",
        "vehicle_registration": "CU57 ABC",
        "registered_keeper": "yes",
        "electric_vehicle": "no",
        "blue_badge_holder": "no",
        "permit_start": (dt.date.today() + dt.timedelta(days=14)).isoformat(),
        **more,
    }


BULK_PERMITS = (
    "full_name,address_line_1,town,postcode,email,zone,vehicle_registration,registered_keeper,"
    "electric_vehicle,blue_badge_holder,permit_start\n"
    "Jamie Demo (demo),9 Church Street,Exampleton,SN1 4DD,jamie.demo@example.com,B,"
    "EX21 DMO,yes,yes,no,{start}\n"
    "Taylor Demo (demo),11 Church Street,Exampleton,not a postcode,taylor.demo@example,C,"
    "EX22 DMO,yes,no,no,{start}\n"
)


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def load_demo(session: Session, settings: Settings) -> str:
    """The demo cases, once; a summary line either way."""
    if session.scalar(select(Case.id).where(Case.channel == DEMO).limit(1)) is not None:
        count = len(session.scalars(select(Case.id)).all())
        return f"{count} cases already loaded"
    cat = catalogue(settings)
    admin = _user(session, "admin")
    ctr_officer = _user(session, "caseworker")
    waste_officer = _user(session, "waste.officer")
    now = utcnow()

    def make(form: str, answers: dict[str, Any], days_ago: float = 0) -> Case:
        made = submit(
            session,
            cat,
            settings,
            form_id=form,
            answers=answers,
            channel=DEMO,
            actor="demo",
            staff=True,
            now=now - dt.timedelta(days=days_ago),
        )
        return made.case

    approved = make("blue-badge", _blue_badge("Morgan Example", ["pip_moving_around_8"]), 9)
    store(
        session,
        cat,
        settings,
        approved,
        kind="application_form",
        filename="blue-badge-application.pdf",
        data=printed_pdf(cat.form("blue-badge"), {k: str(v) for k, v in approved.answers.items()}),
        actor="demo",
    )
    refused = make(
        "blue-badge",
        _blue_badge(
            "Riley Example",
            ["none"],
            walking_distance="over_100m",
            condition_description="Asthma that gets worse in cold weather.",
            email="riley.demo@example.com",
            postcode="SN1 2AB",
        ),
        20,
    )
    make(
        "blue-badge",
        _blue_badge(
            "Jordan Example",
            ["none"],
            terminal_illness="yes",
            walking_distance="under_50m",
            condition_description="Advanced heart failure.",
        ),
        1,
    )
    urgent_ctr = make("council-tax-reduction", _ctr("Sam Example", received_summons="yes"), 2)
    waiting_ctr = make("council-tax-reduction", _ctr("Charlie Example", capital="17500"), 12)
    collected = make("missed-bin", _missed_bin(3), 2)
    make("missed-bin", _missed_bin(6, assisted_collection="yes", postcode="SN3 3BE"), 5)
    make("parking-permit", _permit("Alex Example", "3 Church Street"), 1)
    make(
        "enquiry",
        {
            "question": "Can I put an extra recycling bag out after Christmas?",
            "email": "chris.demo@example.com",
        },
        0,
    )
    start = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    submit_csv(
        session,
        cat,
        settings,
        BULK_PERMITS.format(start=start),
        form_id="parking-permit",
        actor="demo",
    )

    if admin is not None:
        actions.decide(
            session,
            admin,
            approved.reference,
            outcome="approve",
            reason="The PIP award letter shows 10 points for moving around.",
        )
        actions.decide(
            session,
            admin,
            refused.reference,
            outcome="refuse",
            reason=(
                "You told us you can walk more than 100 metres without stopping, and your "
                "description does not show a very considerable difficulty in walking."
            ),
        )
        actions.appeal(
            session,
            cat,
            settings,
            refused.reference,
            reason="My breathing is much worse in winter and I cannot walk far then.",
            verifier="SN1 2AB",
        )
    if ctr_officer is not None:
        actions.assign(session, ctr_officer, urgent_ctr.reference)
        actions.assign(session, ctr_officer, waiting_ctr.reference)
        actions.request_information(
            session,
            ctr_officer,
            waiting_ctr.reference,
            message="Please send bank statements for the last two months for all your accounts.",
        )
    if waste_officer is not None:
        actions.decide(
            session,
            waste_officer,
            collected.reference,
            outcome="approve",
            reason="The crew will return for your recycling tomorrow.",
        )
    count = len(session.scalars(select(Case.id)).all())
    return f"{count} demo cases in every state, across {len(cat.library.forms)} forms"
