"""Tests as data: YAML cases for each form's rules, run by `townhall casework check` and pytest.

``definitions/rule_tests/<form>.yaml`` holds a complete, valid set of answers (``base_answers``)
and cases that change some of them (``null`` removes an answer) and say what must come out: the
recommendation, priority, team, service level, which rules fire (in order), derived figures, or
the validation errors expected instead. A policy officer can add a case without writing Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from townhall.core.errors import InvalidInput
from townhall.services.casework.rules import load_rules, triage
from townhall.services.casework.schema import FormLibrary
from townhall.services.casework.validation import validate


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recommendation: str | None = None
    priority: str | None = None
    team: str | None = None
    sla_working_days: int | None = None
    fired: list[str] | None = None
    derived: dict[str, Any] | None = None
    reason_contains: list[str] | None = None
    rules_from: dt.date | None = None
    errors: dict[str, str] | None = None  # field -> message: validation must fail like this


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    date: dt.date  # the day the rules run (and answers are checked) on
    answers: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    expect: Expect


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str
    base_answers: dict[str, Any]
    base_context: dict[str, Any] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)


@dataclass
class Outcome:
    form: str
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _answers(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {key: value for key, value in merged.items() if value is not None}


def run_case(library: FormLibrary, suite: Suite, case: Case) -> Outcome:
    outcome = Outcome(suite.form, case.name)
    form = library.get(suite.form)
    answers = _answers(suite.base_answers, case.answers)
    checked = validate(form, answers, today=case.date)
    expect = case.expect
    got_errors = {error.field: error.message for error in checked.errors}
    if expect.errors is not None:
        if got_errors != expect.errors:
            outcome.problems.append(f"errors: expected {expect.errors}, got {got_errors}")
        return outcome
    if got_errors:
        outcome.problems.append(f"the answers are not valid: {got_errors}")
        return outcome
    result = triage(
        form,
        load_rules(form, library.folder),
        checked.answers,
        on=case.date,
        context={**suite.base_context, **case.context},
    )
    fired = [f.rule for f in result.fired]
    for name, want, got in (
        ("recommendation", expect.recommendation, result.recommendation),
        ("priority", expect.priority, result.priority),
        ("team", expect.team, result.team),
        ("sla_working_days", expect.sla_working_days, result.sla_working_days),
        ("fired", expect.fired, fired),
        ("rules_from", expect.rules_from, result.effective_from),
    ):
        if want is not None and want != got:
            outcome.problems.append(f"{name}: expected {want!r}, got {got!r}")
    for name, wanted in (expect.derived or {}).items():
        value = result.derived.get(name)
        if isinstance(wanted, float) and isinstance(value, int | float):
            if abs(value - wanted) > 0.005:
                outcome.problems.append(f"derived {name}: expected {wanted}, got {value}")
        elif value != wanted:
            outcome.problems.append(f"derived {name}: expected {wanted!r}, got {value!r}")
    text = " ".join(f.reason for f in result.fired)
    for words in expect.reason_contains or []:
        if words not in text:
            outcome.problems.append(f"no reason says {words!r}; reasons: {text!r}")
    return outcome


def load_suite(path: Path) -> Suite:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Suite.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path.name}: cannot be read as YAML ({exc}).") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise InvalidInput(f"{path.name}: not a usable rule test file ({problems}).") from None


def suites(library: FormLibrary) -> list[Suite]:
    return [load_suite(p) for p in sorted((library.folder / "rule_tests").glob("*.yaml"))]


def run_all(library: FormLibrary) -> list[Outcome]:
    return [run_case(library, suite, case) for suite in suites(library) for case in suite.cases]
