"""Dated parameter files: the entry in force on a date, and a clear error for every bad file."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from townhall.core.errors import InvalidInput
from townhall.core.parameters import (
    DuplicateDate,
    MalformedParameters,
    MissingPolicy,
    NotInForce,
    ParameterError,
    load_parameters,
    parse_parameters,
)


class Allowance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weekly_amount: float = Field(ge=0)
    max_age: int


# Written out of date order on purpose: the file's order must not matter.
RATES = """
- from: 2025-04-06
  policy: Allowance scheme, 2025 uprating (cabinet decision C/25/14)
  weekly_amount: 61.25
  max_age: 18
- from: 2024-04-06
  policy: Allowance scheme, as adopted (cabinet decision C/24/03)
  weekly_amount: 58.00
  max_age: 17
- from: "2026-04-06"
  policy: "  Allowance scheme, 2026 uprating (cabinet decision C/26/09)  "
  weekly_amount: 63.10
  max_age: 18
"""


@pytest.mark.parametrize(
    ("on", "amount", "effective_from"),
    [
        (date(2024, 4, 6), 58.00, date(2024, 4, 6)),  # the first day of the first entry
        (date(2025, 4, 5), 58.00, date(2024, 4, 6)),  # the day before the next takes effect
        (date(2025, 4, 6), 61.25, date(2025, 4, 6)),  # the day it takes effect
        (date(2025, 12, 31), 61.25, date(2025, 4, 6)),
        (date(2026, 4, 6), 63.10, date(2026, 4, 6)),  # a quoted date reads the same
        (date(2040, 1, 1), 63.10, date(2026, 4, 6)),  # the latest stays in force
        (datetime(2025, 4, 6, 9, 30), 61.25, date(2025, 4, 6)),  # a time of day is ignored
    ],
)
def test_the_entry_in_force_is_the_latest_on_or_before_the_date(
    on: date, amount: float, effective_from: date
) -> None:
    entry = parse_parameters(RATES, Allowance).in_force(on)
    assert entry.values.weekly_amount == amount
    assert entry.effective_from == effective_from


def test_entries_are_sorted_validated_and_keep_their_policy_reference() -> None:
    table = parse_parameters(RATES, Allowance, source="allowance.yaml")
    assert [e.effective_from for e in table.entries] == [
        date(2024, 4, 6),
        date(2025, 4, 6),
        date(2026, 4, 6),
    ]
    assert all(isinstance(e.values, Allowance) for e in table.entries)
    assert table.entries[0].values == Allowance(weekly_amount=58.0, max_age=17)
    assert table.entries[0].policy == "Allowance scheme, as adopted (cabinet decision C/24/03)"
    # Surrounding spaces are not part of the reference.
    assert table.entries[2].policy == "Allowance scheme, 2026 uprating (cabinet decision C/26/09)"
    assert table.source == "allowance.yaml"


def test_a_date_before_the_first_entry_is_a_clear_error() -> None:
    table = parse_parameters(RATES, Allowance, source="allowance.yaml")
    with pytest.raises(NotInForce) as caught:
        table.in_force(date(2024, 4, 5))
    assert caught.value.message == (
        "allowance.yaml: no entry is in force on 2024-04-05; "
        "the earliest takes effect from 2024-04-06."
    )


ENTRY = "- from: 2024-04-06\n  policy: Allowance scheme\n  weekly_amount: 58\n  max_age: 17\n"


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("- from: [2024-04-06\n", MalformedParameters, "is not valid YAML"),
        ("from: 2024-04-06\npolicy: p\n", MalformedParameters, "must be a YAML list"),
        ("", MalformedParameters, "must be a YAML list"),
        ("[]", MalformedParameters, "must be a YAML list"),
        ("- 2024-04-06\n", MalformedParameters, "entry 1 must be a mapping"),
        (
            ENTRY.replace("from: 2024-04-06", "from: 06/04/2024"),
            MalformedParameters,
            "entry 1: from: must be a date written YYYY-MM-DD",
        ),
        (
            ENTRY.replace("from: 2024-04-06", "from: 2024"),  # not 2024 seconds after 1970
            MalformedParameters,
            "from: must be a date written YYYY-MM-DD",
        ),
        (
            ENTRY.replace("from: 2024-04-06", "from: 2024-04-06T09:00:00"),
            MalformedParameters,
            "without a time",
        ),
        (
            ENTRY.replace("from: 2024-04-06", "from: 2024-02-30"),
            MalformedParameters,
            "day is out of range",
        ),
        (
            ENTRY.replace("from: 2024-04-06", "from: '2024-02-30'"),
            MalformedParameters,
            "entry 1: from:",
        ),
        (
            ENTRY.replace("- from: 2024-04-06\n  ", "- "),
            MalformedParameters,
            "from: Field required",
        ),
        (ENTRY.replace("  policy: Allowance scheme\n", ""), MissingPolicy, "policy reference"),
        (ENTRY.replace("Allowance scheme", "''"), MissingPolicy, "policy reference"),
        (ENTRY.replace("Allowance scheme", "'   '"), MissingPolicy, "policy reference"),
        (ENTRY.replace(" Allowance scheme", ""), MissingPolicy, "policy reference"),
        (ENTRY.replace("Allowance scheme", "[a, b]"), MissingPolicy, "policy reference"),
        (
            ENTRY + ENTRY.replace("2024-04-06", "'2024-04-06'"),
            DuplicateDate,
            "entries 1 and 2 both take effect from 2024-04-06",
        ),
        (ENTRY + "  max_age: 18\n", MalformedParameters, "the key 'max_age' appears twice"),
        (
            ENTRY.replace("weekly_amount: 58", "weekly_amount: lots"),
            MalformedParameters,
            "entry 1 (from 2024-04-06): weekly_amount: Input should be a valid number",
        ),
        (
            ENTRY.replace("weekly_amount: 58", "weekly_amount: -1"),
            MalformedParameters,
            "weekly_amount: Input should be greater than or equal to 0",
        ),
        (
            ENTRY.replace("  max_age: 17\n", ""),
            MalformedParameters,
            "max_age: Field required",
        ),
        (
            ENTRY + "  max_agee: 18\n",
            MalformedParameters,
            "max_agee: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_parameter_files_give_a_clear_error(
    text: str, error: type[ParameterError], words: str
) -> None:
    with pytest.raises(error) as caught:
        parse_parameters(text, Allowance, source="allowance.yaml")
    assert words in caught.value.message
    assert caught.value.message.startswith("allowance.yaml: ")
    assert isinstance(caught.value, ParameterError)
    assert isinstance(caught.value, InvalidInput)  # shown to people, as a 422 on the web


def test_the_entry_with_a_problem_is_named_by_its_position() -> None:
    second = ENTRY.replace("2024-04-06", "2025-04-06").replace("  policy: Allowance scheme\n", "")
    with pytest.raises(MissingPolicy, match=r"^allowance\.yaml: entry 2 needs a policy reference"):
        parse_parameters(ENTRY + second, Allowance, source="allowance.yaml")


def test_a_file_is_loaded_and_named_in_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "allowance.yaml"
    path.write_text(RATES, encoding="utf-8")
    assert load_parameters(path, Allowance).in_force(date(2025, 5, 1)).values.max_age == 18
    assert load_parameters(str(path), Allowance).source == "allowance.yaml"
    path.write_text(ENTRY + ENTRY, encoding="utf-8")
    with pytest.raises(DuplicateDate, match=r"^allowance\.yaml: entries 1 and 2"):
        load_parameters(path, Allowance)


def test_a_missing_or_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"^missing\.yaml: cannot be read \(No such file"):
        load_parameters(tmp_path / "missing.yaml", Allowance)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError, match=r"^binary\.yaml: cannot be read"):
        load_parameters(tmp_path / "binary.yaml", Allowance)
