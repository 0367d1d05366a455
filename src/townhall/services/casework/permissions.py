"""Casework permissions: working cases, reading the dashboards, and taking anonymised extracts."""

from __future__ import annotations

from townhall.core.permissions import Role

CASEWORK_WORK = "casework:work"  # see, assign, ask about and decide the team's cases
CASEWORK_REPORT = "casework:report"  # queue dashboards: volumes, ages, breaches
CASEWORK_EXPORT = "casework:export"  # anonymised extracts for analysis

PERMISSIONS = {
    CASEWORK_WORK: frozenset({Role.CASEWORKER}),
    CASEWORK_REPORT: frozenset({Role.CASEWORKER, Role.ANALYST, Role.AUDITOR}),
    CASEWORK_EXPORT: frozenset({Role.ANALYST}),
}
