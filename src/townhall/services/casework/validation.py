"""Check a set of answers against a form: typed values, or GOV.UK-style error messages per field.

Answers arrive as text (a web form, a CSV row, a document) or as JSON values (the API); both are
read into one typed shape. Messages follow the GOV.UK Design System's wording ("Enter your date of
birth", "Date of birth must be a real date"); a form may override any of them per field.
Questions hidden by an earlier answer are not checked, and their answers are dropped, so a
changed answer never leaves a stale one behind.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from townhall.services.casework.schema import FieldSpec, FormSpec, resolve_date

DEFAULT_MAX = {"text": 500, "textarea": 5000}
# Tabs and line breaks are allowed in long answers; no other control character is ever kept
# (PostgreSQL refuses NUL, and the rest hide text from the person reading the case).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_BREAK = re.compile(r"[\r\n\t]")
POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})$", re.IGNORECASE
)
# A checkbox option with this value excludes the others (the GOV.UK "or" divider pattern).
NONE = "none"
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DATE_TEXT = re.compile(r"^(\d{1,2})[\s/.-]+(\d{1,2})[\s/.-]+(\d{4})$")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class Result:
    """Typed answers for the questions that apply, and an error for each answer that is wrong."""

    answers: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # answers to questions that do not apply

    @property
    def ok(self) -> bool:
        return not self.errors


class _Bad(Exception):
    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def long_date(value: dt.date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def _subject(spec: FieldSpec) -> str:
    """The field's short name as a sentence starts with it: 'Date of birth'."""
    label = spec.short_label.rstrip("?")
    return label[:1].upper() + label[1:]


def _object(spec: FieldSpec) -> str:
    """The field's short name inside a sentence: 'your date of birth' stays as written."""
    label = spec.short_label.rstrip("?")
    return label[:1].lower() + label[1:] if not label[:2].isupper() else label


def message(spec: FieldSpec, key: str, **values: Any) -> str:
    """The field's own message for `key`, or the GOV.UK-style default."""
    if key in spec.errors:
        return spec.errors[key].format(**values)
    # GOV.UK radios and checkboxes use one message for "nothing chosen" and "not an option".
    choosing = spec.type in ("yes_no", "choice", "choices")
    if key in ("invalid", "not_a_choice") and choosing and "required" in spec.errors:
        return spec.errors["required"]
    subject, obj = _subject(spec), _object(spec)
    defaults = {
        "required": (
            f"Select {obj}"
            if spec.type in ("choice", "choices")
            else "Select yes or no"
            if spec.type == "yes_no"
            else f"Enter {obj}"
        ),
        "wrong_type": f"Enter {obj} as text",
        "control": f"{subject} must not include hidden characters like tabs or line breaks",
        "too_short": f"{subject} must be {values.get('limit')} characters or more",
        "too_long": f"{subject} must be {values.get('limit')} characters or less",
        "pattern": f"{subject} is not in the right format",
        "invalid": {
            "number": f"{subject} must be a number",
            "money": f"{subject} must be an amount of money, like 150 or 150.50",
            "date": f"{subject} must be a real date",
            "email": "Enter an email address in the correct format, like name@example.com",
            "phone": "Enter a telephone number, like 01632 960 001, 07700 900 982 or "
            "+44 808 157 0192",
            "postcode": "Enter a real postcode, like SN1 1AA",
            "ni_number": "Enter a National Insurance number in the correct format, like "
            "QQ 12 34 56 C",
            "yes_no": "Select yes or no",
        }.get(spec.type, f"{subject} is not valid"),
        "whole": f"{subject} must be a whole number",
        "too_small": f"{subject} must be {values.get('limit')} or more",
        "too_big": f"{subject} must be {values.get('limit')} or less",
        "too_early": f"{subject} must be {values.get('limit')}",
        "too_late": f"{subject} must be {values.get('limit')}",
        "not_a_choice": f"Select {obj} from the list",  # noqa: S608 - a message, not SQL
        "exclusive": f"Select '{spec.choice_label(NONE)}' on its own, or the options that apply",
    }
    return defaults[key]


def missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value or (
            isinstance(value, dict) and all(missing(part) for part in value.values())
        )
    return False


def _text(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad("wrong_type")
    text = str(value).strip()
    if CONTROL.search(text) or (spec.type != "textarea" and LINE_BREAK.search(text)):
        raise _Bad("control")
    if spec.type == "textarea":
        text = text.replace("\r\n", "\n")
    limit = spec.max_length or DEFAULT_MAX.get(spec.type, 500)
    if len(text) > limit:
        raise _Bad("too_long", limit=limit)
    if spec.min_length and len(text) < spec.min_length:
        raise _Bad("too_short", limit=spec.min_length)
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise _Bad("pattern")
    return text


def _number(spec: FieldSpec, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad("invalid")
    text = str(value).strip().replace(",", "").replace(" ", "")
    if spec.type == "money":
        text = text.removeprefix("£")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _Bad("invalid") from None
    if not number.is_finite():
        raise _Bad("invalid")
    if spec.type == "money" and number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise _Bad("invalid")
    if spec.integer and number != number.to_integral_value():
        raise _Bad("whole")
    pounds = "£" if spec.type == "money" else ""
    if spec.min is not None and number < Decimal(str(spec.min)):
        raise _Bad("too_small", limit=f"{pounds}{_plain(spec.min)}")
    if spec.max is not None and number > Decimal(str(spec.max)):
        raise _Bad("too_big", limit=f"{pounds}{_plain(spec.max)}")
    if spec.integer or (spec.type == "number" and number == number.to_integral_value()):
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise _Bad("invalid")
    return round(result, 2) if spec.type == "money" else result


def _plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def parse_date(value: Any) -> dt.date:
    """A date from ISO text, UK day-month-year text, a {day, month, year} mapping or a date."""
    if isinstance(value, dt.datetime):
        raise _Bad("invalid")
    if isinstance(value, dt.date):
        return value
    try:
        if isinstance(value, dict):
            parts = [str(value.get(key, "")).strip() for key in ("day", "month", "year")]
            if not all(part.isdigit() for part in parts) or len(parts[2]) != 4:
                raise _Bad("invalid")
            return dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return dt.date.fromisoformat(text)
            match = DATE_TEXT.match(text)
            if match:
                day, month, year = (int(part) for part in match.groups())
                return dt.date(year, month, day)
    except ValueError:
        raise _Bad("invalid") from None
    raise _Bad("invalid")


def _bound_text(bound: str, day: dt.date, today: dt.date, *, before: bool) -> str:
    if bound == "today":
        return "today or in the past" if before else "today or in the future"
    return f"on or {'before' if before else 'after'} {long_date(day)}"


def _date(spec: FieldSpec, value: Any, today: dt.date) -> dt.date:
    day = parse_date(value)
    if spec.min_date:
        low = resolve_date(spec.min_date, today)
        if day < low:
            raise _Bad("too_early", limit=_bound_text(spec.min_date, low, today, before=False))
    if spec.max_date:
        high = resolve_date(spec.max_date, today)
        if day > high:
            raise _Bad("too_late", limit=_bound_text(spec.max_date, high, today, before=True))
    return day


def _choice(spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if not isinstance(value, str | int | float):
        raise _Bad("not_a_choice")
    text = str(value).strip().casefold()
    for choice in spec.choices:
        if text in (choice.value.casefold(), choice.label.casefold()):
            return choice.value
    raise _Bad("not_a_choice")


def _choices(spec: FieldSpec, value: Any) -> list[str]:
    items = re.split(r"[;,]", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _Bad("not_a_choice")
    chosen = [_choice(spec, item) for item in items if not missing(item)]
    if not chosen:
        raise _Bad("required")
    if NONE in chosen and len(set(chosen)) > 1:
        raise _Bad("exclusive")
    return list(dict.fromkeys(chosen))


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold() if isinstance(value, str | int) else ""
    if text in YES:
        return True
    if text in NO:
        return False
    raise _Bad("invalid")


def _email(value: Any) -> str:
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str):
        raise _Bad("invalid")
    try:
        # Never look the domain up: validation runs offline and a citizen's mail server being
        # down is not their mistake.
        return str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        raise _Bad("invalid") from None


def _phone(value: Any) -> str:
    import phonenumbers

    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _Bad("invalid")
    text = str(value).strip()
    if not re.fullmatch(r"[\d\s()+-]{7,25}", text):
        raise _Bad("invalid")
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        raise _Bad("invalid") from None
    # Possible, not "valid": Ofcom's drama ranges (07700 900xxx) are real numbers to a citizen.
    if not phonenumbers.is_possible_number(number):
        raise _Bad("invalid")
    return " ".join(text.split())


def normalise_postcode(value: str) -> str:
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:-3]} {compact[-3:]}"


def _postcode(value: Any) -> str:
    if not isinstance(value, str) or not POSTCODE.match(value.strip()):
        raise _Bad("invalid")
    return normalise_postcode(value)


def _ni_number(value: Any) -> str:
    # The governance layer's checker, so every part of the platform agrees on what an NI number
    # is (prefixes HMRC never issues, and the final letter A-D).
    from townhall.governance.uk_recognisers import ni_ok

    if not isinstance(value, str) or not ni_ok(value):
        raise _Bad("invalid")
    return re.sub(r"\s", "", value).upper()


def read_answer(spec: FieldSpec, value: Any, today: dt.date) -> Any:
    """One answer, typed; raises _Bad with a message key."""
    kind = spec.type
    if kind in ("text", "textarea"):
        return _text(spec, value)
    if kind in ("number", "money"):
        return _number(spec, value)
    if kind == "date":
        return _date(spec, value, today)
    if kind == "choice":
        return _choice(spec, value)
    if kind == "choices":
        return _choices(spec, value)
    if kind == "yes_no":
        return _yes_no(value)
    if kind == "email":
        return _email(value)
    if kind == "phone":
        return _phone(value)
    if kind == "postcode":
        return _postcode(value)
    return _ni_number(value)


def check_field(spec: FieldSpec, value: Any, today: dt.date) -> tuple[Any, FieldError | None]:
    """One answer: (typed value or None, its error or None)."""
    if missing(value):
        if spec.required:
            return None, FieldError(spec.name, message(spec, "required"))
        return None, None
    try:
        return read_answer(spec, value, today), None
    except _Bad as bad:
        return None, FieldError(spec.name, message(spec, bad.key, **bad.values))


def applies(spec: FieldSpec, form: FormSpec, answers: Mapping[str, Any]) -> bool:
    """Whether the question is asked, given the (typed) answers before it."""
    page = form.page_of(spec.name)
    if page.condition and not page.condition.holds(answers):
        return False
    return spec.condition is None or spec.condition.holds(answers)


def validate(
    form: FormSpec,
    answers: Mapping[str, Any],
    *,
    today: dt.date | None = None,
    only: set[str] | None = None,
) -> Result:
    """Check `answers` (only the fields named in `only`, if given) in the form's order."""
    today = today or dt.date.today()
    result = Result(answers={})
    if not isinstance(answers, Mapping):
        result.errors.append(FieldError("answers", "Send the answers as a set of named values"))
        return result
    for name in answers:
        if name not in form.fields:
            result.errors.append(
                FieldError(str(name)[:64], f"This form has no question called '{str(name)[:64]}'")
            )
    for spec in form.fields.values():
        if not applies(spec, form, result.answers):
            if not missing(answers.get(spec.name)):
                result.dropped.append(spec.name)
            continue
        if only is not None and spec.name not in only:
            if spec.name in answers:
                value, error = check_field(spec, answers[spec.name], today)
                if error is None and value is not None:
                    result.answers[spec.name] = value
            continue
        value, error = check_field(spec, answers.get(spec.name), today)
        if error is not None:
            result.errors.append(error)
        elif value is not None:
            result.answers[spec.name] = value
    return result


def to_json(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Typed answers as JSON values (dates as YYYY-MM-DD)."""
    return {
        name: value.isoformat() if isinstance(value, dt.date) else value
        for name, value in answers.items()
    }


def from_json(form: FormSpec, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers typed again (dates back to dates) for conditions and rules."""
    typed: dict[str, Any] = {}
    for name, value in stored.items():
        spec = form.fields.get(name)
        if spec is not None and spec.type == "date" and isinstance(value, str):
            try:
                typed[name] = dt.date.fromisoformat(value)
            except ValueError:
                typed[name] = value
        else:
            typed[name] = value
    return typed
