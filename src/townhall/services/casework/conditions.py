"""Conditions written in YAML: "show this question only if", and "this triage rule fires when".

One small language serves both, so a form author and a rule author read the same thing::

    {field: receives_pip, equals: true}
    {field: capital, gt: $capital_limit}          # $name: a figure from the rules in force
    {all: [{field: bin_type, in: [general, recycling]}, {not: {field: assisted, equals: true}}]}

An unanswered field satisfies nothing but ``answered: false`` (and ``not``), so a rule never
fires on a missing answer by accident. Conditions are parsed once, when the YAML is loaded, and
every mistake is reported with where it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from townhall.core.errors import InvalidInput

COMPARISONS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "contains")
TESTS = (*COMPARISONS, "answered")
GROUPS = ("all", "any", "not")


class ConditionError(InvalidInput):
    """A condition in a form or rules file cannot be understood."""


@dataclass(frozen=True)
class Condition:
    """A parsed condition: a test of one field, or all/any/not of other conditions."""

    kind: str  # a test name, or "all" / "any" / "not"
    field: str = ""
    value: Any = None
    parts: tuple[Condition, ...] = ()

    def fields(self) -> set[str]:
        """Every field the condition reads."""
        if self.parts:
            return set().union(*(part.fields() for part in self.parts))
        return {self.field}

    def figures(self) -> set[str]:
        """Every `$figure` the condition refers to."""
        if self.parts:
            return set().union(*(part.figures() for part in self.parts))
        values = self.value if isinstance(self.value, list) else [self.value]
        return {v[1:] for v in values if isinstance(v, str) and v.startswith("$")}

    def holds(self, facts: Mapping[str, Any], figures: Mapping[str, Any] | None = None) -> bool:
        figures = figures or {}
        if self.kind == "all":
            return all(part.holds(facts, figures) for part in self.parts)
        if self.kind == "any":
            return any(part.holds(facts, figures) for part in self.parts)
        if self.kind == "not":
            return not self.parts[0].holds(facts, figures)
        answer = facts.get(self.field)
        answered = answer not in (None, "", [])
        if self.kind == "answered":
            return answered is bool(self.value)
        if not answered:
            return False
        expected = _resolve(self.value, figures)
        return _compare(self.kind, answer, expected)


def _resolve(value: Any, figures: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_resolve(item, figures) for item in value]
    if isinstance(value, str) and value.startswith("$"):
        return figures[value[1:]]
    return value


def _comparable(answer: Any, expected: Any) -> tuple[Any, Any]:
    # Dates arrive as date objects from validation and as text from YAML; compare them as dates.
    if isinstance(answer, dt.date) and isinstance(expected, str):
        return answer, dt.date.fromisoformat(expected)
    return answer, expected


def _compare(kind: str, answer: Any, expected: Any) -> bool:
    if kind == "equals":
        return bool(answer == expected)
    if kind == "not_equals":
        return bool(answer != expected)
    if kind == "in":
        return answer in expected
    if kind == "not_in":
        return answer not in expected
    if kind == "contains":
        return isinstance(answer, list) and expected in answer
    answer, expected = _comparable(answer, expected)
    try:
        if kind == "gt":
            return bool(answer > expected)
        if kind == "gte":
            return bool(answer >= expected)
        if kind == "lt":
            return bool(answer < expected)
        return bool(answer <= expected)
    except TypeError:
        # A text answer compared with a number never satisfies the rule; validation has already
        # typed every answer, so this is a rule written against the wrong kind of field.
        return False


def parse_condition(raw: Any, where: str) -> Condition:
    """Parse the YAML of a condition; `where` names its place in the file for error messages."""
    if not isinstance(raw, dict) or not raw:
        raise ConditionError(
            f"{where}: a condition must be a mapping, like {{field: x, equals: y}}"
        )
    groups = [key for key in raw if key in GROUPS]
    if groups:
        if len(raw) != 1:
            raise ConditionError(
                f"{where}: '{groups[0]}' must be the only key of its condition "
                f"(found {', '.join(map(str, raw))})"
            )
        key = groups[0]
        if key == "not":
            return Condition("not", parts=(parse_condition(raw["not"], f"{where}.not"),))
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"{where}.{key}: must be a non-empty list of conditions")
        parts = tuple(parse_condition(item, f"{where}.{key}[{n}]") for n, item in enumerate(items))
        return Condition(key, parts=parts)
    field = raw.get("field")
    if not isinstance(field, str) or not field:
        raise ConditionError(
            f"{where}: needs 'field' (the question it tests) or one of all, any, not"
        )
    tests = [key for key in raw if key != "field"]
    if len(tests) != 1 or tests[0] not in TESTS:
        raise ConditionError(
            f"{where}: give exactly one test of '{field}', one of {', '.join(TESTS)} "
            f"(found {', '.join(map(str, tests)) or 'none'})"
        )
    kind = tests[0]
    value = raw[kind]
    if kind in ("in", "not_in") and not isinstance(value, list):
        raise ConditionError(f"{where}: '{kind}' needs a list of values")
    if kind == "answered" and not isinstance(value, bool):
        raise ConditionError(f"{where}: 'answered' must be true or false")
    if isinstance(value, dict):
        raise ConditionError(f"{where}: the value of '{kind}' must be a value, not a mapping")
    return Condition(kind, field=field, value=value)
