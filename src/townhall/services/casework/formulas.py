"""Facts worked out from the answers, for the triage rules to test.

The OpenFisca split: the figures (limits, rates, allowances) are dated YAML with their legal
reference; the arithmetic that uses them is here, in Python, small and tested by the YAML rule
tests. A rules file may only test facts that a form asks, that a formula below provides, or that
the case's history provides (``CONTEXT``, filled from the database when a case is triaged).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from townhall.services.casework.sla import working_days_between

Facts = Mapping[str, Any]
WEEKS_PER_YEAR = 365.25 / 7


@dataclass(frozen=True)
class Formula:
    provides: frozenset[str]
    figures: frozenset[str]  # figures every rules entry for the form must give
    compute: Callable[[Facts, Mapping[str, Any], dt.date], dict[str, Any]]


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _common(facts: Facts, _figures: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    birth = facts.get("date_of_birth")
    return {"age": age_on(birth, on)} if isinstance(birth, dt.date) else {}


def _council_tax_reduction(facts: Facts, figures: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    """Estimated weekly reduction: maximum support less the taper on income over the applicable
    amount. Passported claimants (a qualifying benefit) have their income disregarded."""
    annual = facts.get("annual_council_tax")
    if annual is None:
        return {}
    weekly_liability = float(annual) / WEEKS_PER_YEAR
    birth = facts.get("date_of_birth")
    pension_age = isinstance(birth, dt.date) and age_on(birth, on) >= figures["pension_age"]
    support = figures["max_support_pension_age"] if pension_age else figures["max_support"]
    couple = bool(facts.get("lives_with_partner"))
    applicable = (
        figures["applicable_amount_couple"] if couple else figures["applicable_amount_single"]
    ) + figures["child_allowance"] * int(facts.get("children") or 0)
    passported = facts.get("passport_benefit") not in (None, "none")
    income = 0.0 if passported else float(facts.get("weekly_income") or 0.0)
    excess = max(0.0, income - applicable)
    reduction = max(0.0, weekly_liability * support - figures["taper_rate"] * excess)
    return {
        "weekly_liability": round(weekly_liability, 2),
        "applicable_amount": round(applicable, 2),
        "excess_income": round(excess, 2),
        "pension_age": pension_age,
        "estimated_weekly_reduction": round(reduction, 2),
    }


def _missed_bin(facts: Facts, _figures: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    day = facts.get("collection_date")
    if not isinstance(day, dt.date):
        return {}
    return {"working_days_since_collection": working_days_between(day, on)}


COMMON = Formula(frozenset({"age"}), frozenset(), _common)
FORMULAS: dict[str, Formula] = {
    "council-tax-reduction": Formula(
        frozenset(
            {
                "weekly_liability",
                "applicable_amount",
                "excess_income",
                "pension_age",
                "estimated_weekly_reduction",
            }
        ),
        frozenset(
            {
                "pension_age",
                "max_support",
                "max_support_pension_age",
                "applicable_amount_single",
                "applicable_amount_couple",
                "child_allowance",
                "taper_rate",
            }
        ),
        _council_tax_reduction,
    ),
    "missed-bin": Formula(frozenset({"working_days_since_collection"}), frozenset(), _missed_bin),
}

# Facts from the case's surroundings, filled by cases.py from earlier cases at the same address.
CONTEXT: dict[str, frozenset[str]] = {
    "missed-bin": frozenset({"earlier_reports_at_address"}),
    "parking-permit": frozenset({"household_permits"}),
}


def derived_names(form_id: str) -> frozenset[str]:
    formula = FORMULAS.get(form_id)
    own = formula.provides if formula else frozenset()
    return COMMON.provides | own | CONTEXT.get(form_id, frozenset())


def required_figures(form_id: str) -> frozenset[str]:
    formula = FORMULAS.get(form_id)
    return formula.figures if formula else frozenset()


def derive(form_id: str, facts: Facts, figures: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    derived = COMMON.compute(facts, figures, on)
    formula = FORMULAS.get(form_id)
    if formula is not None:
        derived.update(formula.compute({**facts, **derived}, figures, on))
    return derived
