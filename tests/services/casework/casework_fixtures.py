"""Shared pieces of the casework tests (imported by name: a conftest.py here would shadow the
suite's): valid answers for each demo form, dated from today, teams and users, API tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from townhall.core import auth
from townhall.core.audit import AuditEntry
from townhall.core.db import transaction
from townhall.core.decisions import DecisionRecord
from townhall.services.casework.models import Case, CaseEvent, Evidence

TEAMS = ("parking", "council-tax", "waste", "customer-services")


def days(n: int) -> str:
    return (dt.date.today() + dt.timedelta(days=n)).isoformat()


def blue_badge(**changes: Any) -> dict[str, Any]:
    return {
        "full_name": "Morgan Example",
        "date_of_birth": "1951-03-27",
        "address_line_1": "4 Mill Lane",
        "town": "Exampleton",
        "postcode": "SN1 1AA",
        "email": "morgan@example.com",
        "qualifying_benefits": ["pip_moving_around_8"],
        "terminal_illness": False,
        **changes,
    }


def council_tax_reduction(**changes: Any) -> dict[str, Any]:
    return {
        "full_name": "Sam Example",
        "date_of_birth": "1980-05-01",
        "ni_number": "AB 12 34 56 C",
        "address_line_1": "12 Station Road",
        "town": "Exampleton",
        "postcode": "SN2 2BB",
        "email": "sam@example.com",
        "account_number": "12345678",
        "annual_council_tax": 1800,
        "lives_with_partner": False,
        "children": 1,
        "passport_benefit": "none",
        "weekly_income": 250,
        "capital": 2000,
        "received_summons": False,
        **changes,
    }


def missed_bin(**changes: Any) -> dict[str, Any]:
    return {
        "address_line_1": "7 Orchard Close",
        "postcode": "SN3 3BD",
        "bin_type": "general",
        "collection_date": days(0),
        "bin_out_by_7am": True,
        "assisted_collection": False,
        "email": "robin@example.com",
        **changes,
    }


def parking_permit(**changes: Any) -> dict[str, Any]:
    return {
        "full_name": "Alex Example",
        "address_line_1": "3 Church Street",
        "town": "Exampleton",
        "postcode": "SN1 4DD",
        "email": "alex@example.com",
        "zone": "A",
        "vehicle_registration": "CU57 ABC",
        "registered_keeper": True,
        "electric_vehicle": False,
        "blue_badge_holder": False,
        "permit_start": days(7),
        **changes,
    }


VALID = {
    "blue-badge": blue_badge,
    "council-tax-reduction": council_tax_reduction,
    "missed-bin": missed_bin,
    "parking-permit": parking_permit,
}


def make_teams(engine: Engine) -> None:
    with transaction(engine) as session:
        for slug in TEAMS:
            if session.scalar(select(auth.Team).where(auth.Team.slug == slug)) is None:
                session.add(auth.Team(slug=slug, name=slug.replace("-", " ").title()))


def token_for(
    app: FastAPI,
    engine: Engine,
    make_user: Callable[..., auth.User],
    name: str,
    role: str,
    teams: tuple[str, ...] = (),
) -> dict[str, str]:
    user = make_user(name, role, teams)
    with transaction(engine) as session:
        token = auth.issue_token(session, session.merge(user), "tests")[1]
    return {"Authorization": f"Bearer {token}"}


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.__tablename__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Case, CaseEvent, Evidence, DecisionRecord, AuditEntry)
        }
