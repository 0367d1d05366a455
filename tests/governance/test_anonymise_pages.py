"""The anonymised export page: states k and l, downloads only for its maker, refuses bad input."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pycanon import anonymity

from conftest import PASSWORD, csrf_from, make_settings, sign_in
from townhall.app import create_app
from townhall.core import auth
from townhall.core.db import transaction

CSV = (
    pd.DataFrame(
        {
            "age": [21, 25, 33, 38, 41, 47, 52, 58] * 5,
            "postcode": ["EX1 1AA", "EX1 2BB", "EX2 1CC", "EX2 9DD"] * 10,
            "name": [f"Person {i}" for i in range(40)],
            "outcome": ["award", "refuse"] * 20,
        }
    )
    .to_csv(index=False)
    .encode()
)
FORM = {
    "quasi": "age:bands=10,20\npostcode:postcode",
    "sensitive": "outcome",
    "drop": "name",
    "k": "5",
    "l": "2",
}


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, exports_dir=tmp_path / "exports"))
    with transaction(app.state.engine) as session:
        for name in ("ana", "other"):
            auth.create_user(
                session,
                username=name,
                password=PASSWORD,
                role="analyst",
                hasher=app.state.password_hasher,
            )
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _submit(client: TestClient, form: dict[str, str], body: bytes = CSV):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/exports").text)
    return client.post(
        "/exports",
        data={**form, "csrf_token": token},
        files={"file": ("cases.csv", body, "text/csv")},
    )


def test_export_states_k_and_l_and_downloads_for_its_maker_only(site: TestClient) -> None:
    sign_in(site, "ana")
    page = _submit(site, FORM)
    assert page.status_code == 200, page.text
    stated = re.search(r"k = (\d+), l = (\d+)", page.text)
    assert stated is not None
    link = re.search(r'href="(/exports/[^"]+\.csv)"', page.text)
    assert link is not None
    download = site.get(link.group(1))
    assert download.status_code == 200
    out = pd.read_csv(io.StringIO(download.text))
    assert "name" not in out.columns and "Person 1" not in download.text
    assert anonymity.k_anonymity(out, ["age", "postcode"]) == int(stated.group(1)) >= 5
    assert anonymity.l_diversity(out, ["age", "postcode"], ["outcome"]) == int(stated.group(2))
    site.cookies.clear()
    sign_in(site, "other")
    assert site.get(link.group(1)).status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": "ten"}, "Enter k as a whole number"),
        ({"k": "999"}, "impossible"),
        ({"quasi": "age:wobble"}, "Write one rule a line"),
        ({"quasi": ""}, "Enter at least one quasi-identifier"),
        ({"sensitive": "nope"}, "Columns not in the data: nope"),
    ],
)
def test_bad_requests_are_clear_errors_and_write_nothing(
    site: TestClient, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    sign_in(site, "ana")
    page = _submit(site, {**FORM, **change})
    assert page.status_code == 422 and message in page.text
    assert not list((tmp_path / "exports").glob("*.csv"))


def test_a_file_that_is_not_csv_is_refused(site: TestClient) -> None:
    sign_in(site, "ana")
    page = _submit(site, FORM, body=b"\x00\xff\xfe not a csv")
    assert page.status_code == 422
