"""Form definitions as data: one YAML file per form, checked when it is loaded.

A form is a list of pages (GOV.UK question pages: one thing per page), each with its fields, and
the evidence the applicant must send. Fields carry their own validation (required, lengths,
patterns, choices, number and date ranges) and may be shown only when an earlier answer says so
(``show_if``). The loader refuses a definition it cannot use with a message naming the file, the
place in it and the problem, so a form author never meets a stack trace.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from townhall.core.errors import InvalidInput
from townhall.services.casework.conditions import Condition, ConditionError, parse_condition

DEFINITIONS = Path(__file__).resolve().parent / "definitions"

FieldType = Literal[
    "text",
    "textarea",
    "number",
    "money",
    "date",
    "choice",
    "choices",
    "yes_no",
    "email",
    "phone",
    "postcode",
    "ni_number",
]
# Error message keys a field may override; each has a GOV.UK-style default (validation.py).
ERROR_KEYS = frozenset(
    {
        "required",
        "invalid",
        "too_short",
        "too_long",
        "pattern",
        "too_small",
        "too_big",
        "too_early",
        "too_late",
        "not_a_choice",
        "whole",
        "wrong_type",
        "control",
        "exclusive",
    }
)
NAME = r"^[a-z][a-z0-9_]{0,63}$"
SLUG = r"^[a-z][a-z0-9-]{0,63}$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
RELATIVE_DATE = re.compile(r"^today(?:([+-])(\d{1,4})([dmy]))?$")


class FormError(InvalidInput):
    """A form definition cannot be used."""


def resolve_date(value: str, today: dt.date) -> dt.date:
    """'today', 'today-18y', 'today+30d' or 'YYYY-MM-DD' on the given day."""
    match = RELATIVE_DATE.match(value)
    if not match:
        return dt.date.fromisoformat(value)
    sign, amount, unit = match.groups()
    if not sign:
        return today
    n = int(amount) * (1 if sign == "+" else -1)
    if unit == "d":
        return today + dt.timedelta(days=n)
    months = n * (12 if unit == "y" else 1)
    year, month = divmod(today.month - 1 + months, 12)
    year += today.year
    day = min(today.day, _days_in_month(year, month + 1))
    return dt.date(year, month + 1, day)


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChoiceSpec(_Strict):
    value: Text
    label: Text
    hint: str = ""

    @model_validator(mode="before")
    @classmethod
    def _yaml_scalars(cls, data: Any) -> Any:
        # YAML reads `value: yes` as True and `value: 2` as 2; choices are text on the wire.
        if isinstance(data, dict) and "value" in data and not isinstance(data["value"], str):
            data = {**data, "value": str(data["value"]).lower()}
        return data


class FieldSpec(_Strict):
    name: Annotated[str, StringConstraints(pattern=NAME)]
    type: FieldType
    label: Text  # the question, as the page asks it
    summary_label: str = ""  # the short name on the check-answers page; default: the label
    hint: str = ""
    required: bool = True
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1, le=100_000)
    pattern: str | None = None
    integer: bool = False  # number fields: whole numbers only
    min: float | None = None
    max: float | None = None
    min_date: str | None = None  # 'today', 'today-120y', 'today+30d' or YYYY-MM-DD
    max_date: str | None = None
    choices: tuple[ChoiceSpec, ...] = ()
    show_if: dict[str, Any] | None = None
    errors: dict[str, Text] = Field(default_factory=dict)
    # Other words a paper or PDF form uses for this question, for document extraction.
    document_labels: tuple[Text, ...] = ()

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression ({exc})") from None
        return value

    @field_validator("min_date", "max_date")
    @classmethod
    def _date_bound(cls, value: Any) -> str | None:
        if value is None:
            return None
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        try:
            resolve_date(text, dt.date(2000, 1, 1))
        except ValueError:
            raise ValueError(
                "must be 'today', 'today-18y' (or +/- days d, months m, years y) or YYYY-MM-DD"
            ) from None
        return text

    @field_validator("errors")
    @classmethod
    def _known_error_keys(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - ERROR_KEYS)
        if unknown:
            raise ValueError(
                f"unknown error message {', '.join(unknown)}; use {', '.join(sorted(ERROR_KEYS))}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.type in ("choice", "choices"):
            if not self.choices:
                raise ValueError(f"a {self.type} field needs choices")
            values = [choice.value for choice in self.choices]
            if len(set(values)) != len(values):
                raise ValueError("choice values must be unique")
        elif self.choices:
            raise ValueError(f"a {self.type} field has no choices (only choice and choices do)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        lengths = (self.min_length, self.max_length)
        if None not in lengths and lengths[0] > lengths[1]:  # type: ignore[operator]
            raise ValueError("min_length is greater than max_length")
        if (self.min_date or self.max_date) and self.type != "date":
            raise ValueError("min_date and max_date are for date fields")
        if (self.min is not None or self.max is not None or self.integer) and self.type not in (
            "number",
            "money",
        ):
            raise ValueError("min, max and integer are for number and money fields")
        return self

    @cached_property
    def condition(self) -> Condition | None:
        return parse_condition(self.show_if, f"{self.name}.show_if") if self.show_if else None

    @property
    def short_label(self) -> str:
        return self.summary_label or self.label

    def choice_label(self, value: str) -> str:
        return next((c.label for c in self.choices if c.value == value), value)


class PageSpec(_Strict):
    id: Annotated[str, StringConstraints(pattern=SLUG)]
    title: Text  # the page's heading; for a page with one field, usually that field's question
    hint: str = ""
    fields: tuple[FieldSpec, ...] = Field(min_length=1)
    show_if: dict[str, Any] | None = None

    @cached_property
    def condition(self) -> Condition | None:
        return parse_condition(self.show_if, f"page {self.id}.show_if") if self.show_if else None


class EvidenceSpec(_Strict):
    kind: Annotated[str, StringConstraints(pattern=NAME)]
    label: Text
    hint: str = ""
    required: bool = True
    show_if: dict[str, Any] | None = None

    @cached_property
    def condition(self) -> Condition | None:
        return (
            parse_condition(self.show_if, f"evidence {self.kind}.show_if") if self.show_if else None
        )


class Outcomes(_Strict):
    """What the citizen is told for each decision."""

    approve: Text
    refuse: Text
    refer: Text


class FormSpec(_Strict):
    id: Annotated[str, StringConstraints(pattern=SLUG)]
    version: Text
    title: Text
    description: str = ""
    reference_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]
    team: Annotated[str, StringConstraints(pattern=SLUG)]  # the team that owns the form
    # Answers a citizen gives with their reference to see their case (postcode or email fields).
    verifier_fields: tuple[str, ...] = Field(min_length=1)
    # What the citizen reads about asking for a review of a refusal (shown with every refusal).
    review_rights: Text
    outcomes: Outcomes
    pages: tuple[PageSpec, ...] = Field(min_length=1)
    evidence: tuple[EvidenceSpec, ...] = ()

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @cached_property
    def fields(self) -> dict[str, FieldSpec]:
        return {field.name: field for page in self.pages for field in page.fields}

    def page_of(self, field_name: str) -> PageSpec:
        return next(page for page in self.pages if field_name in {f.name for f in page.fields})


def _check_references(form: FormSpec) -> None:
    """Names used in conditions exist and come earlier; verifiers are postcode or email fields."""
    seen: set[str] = set()
    pages = {page.id for page in form.pages}
    if len(pages) != len(form.pages):
        raise ValueError("two pages share an id")
    for page in form.pages:
        if page.condition:
            late = page.condition.fields() - seen
            if late:
                raise ValueError(
                    f"page {page.id}: show_if reads {', '.join(sorted(late))}, which is not "
                    "asked on an earlier page"
                )
        for field in page.fields:
            if field.name in seen:
                raise ValueError(f"the field {field.name} appears twice")
            if field.condition:
                late = field.condition.fields() - seen
                if late:
                    raise ValueError(
                        f"{field.name}: show_if reads {', '.join(sorted(late))}, which is not "
                        "asked before it"
                    )
            seen.add(field.name)
    for evidence in form.evidence:
        if evidence.condition and evidence.condition.fields() - seen:
            missing = evidence.condition.fields() - seen
            raise ValueError(f"evidence {evidence.kind}: show_if reads unknown {sorted(missing)}")
    kinds = [evidence.kind for evidence in form.evidence]
    if len(set(kinds)) != len(kinds):
        raise ValueError("two evidence items share a kind")
    for name in form.verifier_fields:
        verifier = form.fields.get(name)
        if verifier is None or verifier.type not in ("postcode", "email"):
            raise ValueError(f"verifier_fields: {name} must be a postcode or email field")


def _where(loc: tuple[Any, ...], raw: Any) -> str:
    """A pydantic location, as a form author would find it: pages[2].fields[0] (date_of_birth)."""
    parts: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
        node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
        if isinstance(node, dict) and isinstance(node.get("name") or node.get("id"), str):
            parts[-1] += f" ({node.get('name') or node.get('id')})"
    return ".".join(parts) or "form"


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def parse_form(text: str, *, source: str = "form") -> FormSpec:
    """Check the YAML text of a form definition; `source` names it in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormError(f"{source}: is not valid YAML{line}.") from None
    if not isinstance(raw, dict):
        raise FormError(f"{source}: must be a YAML mapping starting with 'id:'.")
    try:
        form = FormSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(error['loc'], raw)}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()[:6]
        )
        raise FormError(f"{source}: {problems}.") from None
    try:
        _check_references(form)
        for page in form.pages:
            _ = page.condition
            for field in page.fields:
                _ = field.condition
        for evidence in form.evidence:
            _ = evidence.condition
    except (ValueError, ConditionError) as exc:
        message = exc.message if isinstance(exc, ConditionError) else str(exc)
        raise FormError(f"{source}: {message}.") from None
    return form


def load_form(path: Path) -> FormSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormError(f"{path.name}: cannot be read ({exc}).") from None
    form = parse_form(text, source=path.name)
    if form.id != path.stem:
        raise FormError(f"{path.name}: its id is {form.id!r}; name the file {form.id}.yaml.")
    return form


@dataclass(frozen=True)
class FormLibrary:
    """Every form of a deployment, by id."""

    forms: dict[str, FormSpec]
    folder: Path

    def get(self, form_id: str) -> FormSpec:
        form = self.forms.get(form_id)
        if form is None:
            raise FormNotFound(
                f"There is no form called {form_id!r}. "
                f"The forms are: {', '.join(sorted(self.forms))}.",
                field="form",
            )
        return form

    def by_prefix(self, prefix: str) -> FormSpec | None:
        return next((f for f in self.forms.values() if f.reference_prefix == prefix), None)


class FormNotFound(InvalidInput):
    status_code = 404
    code = "not_found"


def load_library(folder: Path | None = None) -> FormLibrary:
    """Load every `*.yaml` form in `folder` (default: the shipped definitions)."""
    folder = folder or DEFINITIONS
    forms_dir = folder / "forms"
    paths = sorted(forms_dir.glob("*.yaml"))
    if not paths:
        raise FormError(f"No form definitions (*.yaml) in {forms_dir}.")
    forms = [load_form(path) for path in paths]
    prefixes: dict[str, str] = {}
    for form in forms:
        other = prefixes.setdefault(form.reference_prefix, form.id)
        if other != form.id:
            raise FormError(
                f"{form.id}.yaml: reference_prefix {form.reference_prefix} is already used by "
                f"{other}; each form needs its own."
            )
    return FormLibrary({form.id: form for form in forms}, folder)
