"""Eligibility and triage rules: dated YAML parameters with their policy reference, per form.

Each entry of ``definitions/rules/<form>.yaml`` (see ``townhall.core.parameters``) gives the
defaults (team, priority, service level), the figures in force, and an ordered list of rules.
A rule that fires adds its plain-English reason; the case gets the most pressing priority and the
shortest service level among the fired rules that set one (else the entry's defaults), and the
recommendation and team of the first fired rule that gives one (a "first hit" decision table,
so the order is the precedence).
No rule is ever the decision: the recommendation is a proposal a caseworker accepts or overrides.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from townhall.core.errors import InvalidInput
from townhall.core.parameters import DatedParameters, ParameterSet, load_parameters
from townhall.services.casework import formulas
from townhall.services.casework.conditions import Condition, ConditionError, parse_condition
from townhall.services.casework.schema import SLUG, FormSpec

PRIORITIES = ("urgent", "high", "routine", "low")  # most pressing first
Priority = Literal["urgent", "high", "routine", "low"]
Recommendation = Literal["approve", "refuse", "refer"]
OUTCOMES = ("approve", "refuse", "refer")
ASSESS = "assess"  # no rule recommends an outcome: a person assesses the case from scratch
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=SLUG)]
Figure = float | int | bool | str | list[float | int | str]


class RulesError(InvalidInput):
    """A rules file cannot be used with its form."""


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    when: dict[str, Any]
    # Plain English, read by the caseworker and kept on the decision record. May name facts and
    # figures in braces, with a format: "Savings of £{capital:,.2f} are over the limit".
    reason: Text
    priority: Priority | None = None
    recommendation: Recommendation | None = None
    sla_working_days: int | None = Field(default=None, ge=1, le=365)
    team: Slug | None = None

    @cached_property
    def condition(self) -> Condition:
        return parse_condition(self.when, f"rule {self.id}.when")


class TriageRules(BaseModel):
    """One dated entry's figures and rules (the `from` and `policy` keys are the core's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: Slug
    priority: Priority = "routine"
    sla_working_days: int = Field(ge=1, le=365)
    figures: dict[str, Figure] = Field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True)
class Fired:
    rule: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "text": self.reason}


@dataclass(frozen=True)
class Triage:
    """What the rules propose for one case, and why."""

    priority: str
    team: str
    sla_working_days: int
    recommendation: str  # approve / refuse / refer, or "assess"
    fired: list[Fired]
    derived: dict[str, Any]
    policy: str
    effective_from: dt.date
    defaults_used: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.effective_from.isoformat()

    def reasons(self) -> list[dict[str, str]]:
        return [fired.as_dict() for fired in self.fired]

    def as_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "team": self.team,
            "sla_working_days": self.sla_working_days,
            "recommendation": self.recommendation,
            "reasons": self.reasons(),
            "derived": self.derived,
            "policy": self.policy,
            "rules_from": self.version,
        }


def write_reason(template: str, values: Mapping[str, Any]) -> str:
    """Fill a reason's {names}; a missing or unformattable value is written plainly, so a reason
    is always written (checked names make this rare: a fact missing for this case)."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name, "-")
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        try:
            out.append(format(value, spec or ""))
        except (ValueError, TypeError):
            out.append(str(value))
    return "".join(out)


def _placeholders(template: str, where: str) -> set[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise RulesError(f"{where}: the reason is not a valid template ({exc}).") from None
    odd = sorted(name for name in names if not name.isidentifier())
    if odd:
        raise RulesError(f"{where}: the reason may name facts and figures only, not {odd[0]!r}.")
    return names


def check_rules(form: FormSpec, rules: DatedParameters[TriageRules]) -> None:
    """Every name a rule uses exists; every figure the form's formula needs is given."""
    known = set(form.fields) | formulas.derived_names(form.id)
    needed = formulas.required_figures(form.id)
    for entry in rules.entries:
        where = f"{rules.source}: entry from {entry.effective_from.isoformat()}"
        values = entry.values
        missing = sorted(needed - set(values.figures))
        if missing:
            raise RulesError(f"{where}: figures needs {', '.join(missing)}.")
        ids = [rule.id for rule in values.rules]
        if len(set(ids)) != len(ids):
            raise RulesError(f"{where}: two rules share an id.")
        for rule in values.rules:
            at = f"{where}, rule {rule.id}"
            try:
                condition = rule.condition
            except ConditionError as exc:
                raise RulesError(f"{where}: {exc.message}.") from None
            unknown = sorted(condition.fields() - known)
            if unknown:
                raise RulesError(
                    f"{at}: tests {', '.join(unknown)}, which the form does not ask and no "
                    "formula provides."
                )
            figures = sorted(condition.figures() - set(values.figures))
            if figures:
                raise RulesError(f"{at}: uses ${', $'.join(figures)}, not among its figures.")
            names = _placeholders(rule.reason, at) - known - set(values.figures)
            if names:
                raise RulesError(f"{at}: the reason names {', '.join(sorted(names))}, unknown.")


def load_rules(form: FormSpec, folder: Path) -> DatedParameters[TriageRules]:
    path = folder / "rules" / f"{form.id}.yaml"
    if not path.exists():
        raise RulesError(f"{form.id}: no rules file {path.name} in {path.parent}.")
    rules = load_parameters(path, TriageRules)
    check_rules(form, rules)
    return rules


def _most_pressing(priorities: Sequence[str]) -> str:
    return min(priorities, key=PRIORITIES.index)


def triage(
    form: FormSpec,
    rules: DatedParameters[TriageRules],
    answers: Mapping[str, Any],
    *,
    on: dt.date,
    context: Mapping[str, Any] | None = None,
) -> Triage:
    """Run the rules in force on `on` over typed answers and context facts."""
    entry: ParameterSet[TriageRules] = rules.in_force(on)
    values = entry.values
    facts: dict[str, Any] = {**answers, **(context or {})}
    derived = formulas.derive(form.id, facts, values.figures, on)
    facts.update(derived)
    fired = [rule for rule in values.rules if rule.condition.holds(facts, values.figures)]
    names = {**values.figures, **facts}
    priorities = [r.priority for r in fired if r.priority]
    priority = _most_pressing(priorities) if priorities else values.priority
    slas = [r.sla_working_days for r in fired if r.sla_working_days]
    sla = min(slas) if slas else values.sla_working_days
    recommendation = next((r.recommendation for r in fired if r.recommendation), ASSESS)
    team = next((r.team for r in fired if r.team), values.team)
    return Triage(
        priority=priority,
        team=team,
        sla_working_days=sla,
        recommendation=recommendation,
        fired=[Fired(rule.id, write_reason(rule.reason, names)) for rule in fired],
        derived={k: v.isoformat() if isinstance(v, dt.date) else v for k, v in derived.items()},
        policy=entry.policy,
        effective_from=entry.effective_from,
    )
