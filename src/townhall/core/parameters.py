"""Dated parameters: figures that change over time, each set naming the policy it comes from.

Rates, thresholds and eligibility rules are data, not constants in Python (the OpenFisca habit).
A parameter file is a YAML list of entries. Each entry takes effect on its ``from`` date, stays in
force until the next entry's, and names the policy, decision or law its figures come from::

    - from: 2024-04-01
      policy: Fairness audit policy, section 3 (four-fifths rule)
      min_group_size: 30

Every key but ``from`` and ``policy`` belongs to the caller: it is validated by the pydantic model
the caller passes, so fairness audits and casework eligibility rules each declare their own
figures. Give that model ``extra="forbid"`` so that a misspelt key is an error, not a silent
default. An entry is never edited once in force: a change is a new entry with a later date, so a
past decision can be checked against the figures in force when it was made.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from townhall.core.errors import InvalidInput

__all__ = [
    "DatedParameters",
    "DuplicateDate",
    "MalformedParameters",
    "MissingPolicy",
    "NotInForce",
    "ParameterError",
    "ParameterSet",
    "load_parameters",
    "parse_parameters",
]

V = TypeVar("V", bound=BaseModel)


class ParameterError(InvalidInput):
    """A file of dated parameters cannot be used."""


class MalformedParameters(ParameterError):
    """The file is not YAML, not a list of entries, or an entry's figures fail validation."""


class MissingPolicy(ParameterError):
    """An entry does not say which policy, decision or law its figures come from."""


class DuplicateDate(ParameterError):
    """Two entries take effect on the same date, so neither is clearly the one in force."""


class NotInForce(ParameterError):
    """No entry had taken effect by the date asked about."""


@dataclass(frozen=True)
class ParameterSet(Generic[V]):
    """One dated entry: the figures in force from `effective_from`, and where they come from."""

    effective_from: date
    policy: str
    values: V


@dataclass(frozen=True)
class DatedParameters(Generic[V]):
    """Every entry of one parameter file, oldest first."""

    source: str
    entries: tuple[ParameterSet[V], ...]

    def in_force(self, on: date) -> ParameterSet[V]:
        """The entry with the latest `from` date on or before `on`."""
        if isinstance(on, datetime):  # a datetime is a date, but cannot be compared with one
            on = on.date()
        dates = [entry.effective_from for entry in self.entries]
        index = bisect.bisect_right(dates, on)
        if index == 0:
            raise NotInForce(
                f"{self.source}: no entry is in force on {on.isoformat()}; "
                f"the earliest takes effect from {dates[0].isoformat()}."
            )
        return self.entries[index - 1]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # YAML reads an unquoted 2024-04-01 as a date and a quoted one as text. Anything else is
    # refused rather than guessed at: pydantic would read the number 2024 as seconds since 1970.
    if isinstance(value, datetime):
        raise ValueError("must be a date written YYYY-MM-DD, without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return value.strip()  # pydantic then checks that the day exists
    raise ValueError("must be a date written YYYY-MM-DD")


class _Heading(BaseModel):
    """What every entry has, whatever its figures."""

    model_config = ConfigDict(frozen=True)

    effective_from: Annotated[date, BeforeValidator(_iso_date), Field(alias="from")]
    policy: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys, which PyYAML would quietly resolve to the last."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key_node.tag != "tag:yaml.org,2002:merge" and _hashable(key) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} appears twice",
                    key_node.start_mark,
                )
            if _hashable(key):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def load_parameters(path: Path | str, values: type[V]) -> DatedParameters[V]:
    """Read and check a parameter file; `values` validates each entry's own figures."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ParameterError(f"{path.name}: cannot be read ({reason}).") from None
    return parse_parameters(text, values, source=path.name)


def parse_parameters(
    text: str, values: type[V], *, source: str = "parameters"
) -> DatedParameters[V]:
    """Check the YAML text of a parameter file; `source` names it in error messages."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for 2024-02-30
        raise MalformedParameters(f"{source}: is not valid YAML ({_yaml_problem(exc)}).") from None
    if not isinstance(raw, list) or not raw:
        raise MalformedParameters(
            f"{source}: must be a YAML list of dated entries, each starting '- from: YYYY-MM-DD'."
        )
    entries = [_entry(item, number, values, source) for number, item in enumerate(raw, 1)]
    first_seen: dict[date, int] = {}
    for number, entry in enumerate(entries, 1):
        earlier = first_seen.setdefault(entry.effective_from, number)
        if earlier != number:
            raise DuplicateDate(
                f"{source}: entries {earlier} and {number} both take effect from "
                f"{entry.effective_from.isoformat()}; each change needs its own date."
            )
    ordered = tuple(sorted(entries, key=lambda entry: entry.effective_from))
    return DatedParameters(source=source, entries=ordered)


def _entry(item: object, number: int, values: type[V], source: str) -> ParameterSet[V]:
    where = f"{source}: entry {number}"
    if not isinstance(item, dict):
        raise MalformedParameters(f"{where} must be a mapping of 'from', 'policy' and figures.")
    try:
        heading = _Heading.model_validate(
            {name: item[name] for name in ("from", "policy") if name in item}
        )
    except ValidationError as exc:
        if any(error["loc"][0] == "policy" for error in exc.errors()):
            raise MissingPolicy(
                f"{where} needs a policy reference: text naming the policy, decision or law "
                "its figures come from."
            ) from None
        raise MalformedParameters(f"{where}: {_problems(exc)}.") from None
    figures = {key: value for key, value in item.items() if key not in ("from", "policy")}
    try:
        checked = values.model_validate(figures)
    except ValidationError as exc:
        raise MalformedParameters(
            f"{where} (from {heading.effective_from.isoformat()}): {_problems(exc)}."
        ) from None
    return ParameterSet(
        effective_from=heading.effective_from, policy=heading.policy, values=checked
    )


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem}, line {mark.line + 1}" if mark is not None else problem


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'entry'}: "
        + error["msg"].removeprefix("Value error, ")
        for error in exc.errors()[:8]
    )
