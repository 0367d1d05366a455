"""`townhall casework forms|check|submit|show|queue|status|dashboard|read|form-pdf|extract`, with
--json printing the same data as the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from casework_fixtures import make_teams, missed_bin
from sqlalchemy import create_engine
from typer.testing import CliRunner

from townhall.services.casework.cli import app
from townhall.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("TOWNHALL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "s" * 32)
    monkeypatch.setenv("TOWNHALL_ENVIRONMENT", "test")
    monkeypatch.setenv("TOWNHALL_CASEWORK_EVIDENCE_DIR", str(tmp_path / "evidence"))
    get_settings.cache_clear()
    engine = create_engine(database_url)
    make_teams(engine)
    engine.dispose()
    yield database_url
    get_settings.cache_clear()


def run(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def test_forms_and_check_list_the_forms_and_pass_their_rule_tests(cli_db: str) -> None:
    forms = run("forms", "--json")
    assert {f["id"]: f["prefix"] for f in forms}["council-tax-reduction"] == "CTR"  # type: ignore[union-attr]
    report = run("check", "--json")
    assert report["failed"] == [] and report["cases"] >= 35  # type: ignore[index]


def test_submit_show_and_queue_a_csv_of_missed_bins(cli_db: str, tmp_path: Path) -> None:
    good = missed_bin()
    text = {k: "yes" if v is True else "no" if v is False else str(v) for k, v in good.items()}
    lines = [",".join(text), ",".join(text.values()), ",".join({**text, "postcode": "XX"}.values())]
    path = tmp_path / "bins.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    report = run("submit", str(path), "--form", "missed-bin", "--json")
    assert (report["submitted"], report["drafts"]) == (1, 1)  # type: ignore[index]
    ref = report["rows"][0]["reference"]  # type: ignore[index]
    shown = run("show", ref, "--json")
    assert shown["status"] == "triaged" and shown["proposal"]["outcome"] == "approve"  # type: ignore[index]
    assert ref in str(run("show", ref))
    queue = run("queue", "waste", "--json")
    assert [item["reference"] for item in queue["items"]] == [ref]  # type: ignore[index]
    assert "1 open" in str(run("queue", "waste"))
    status = run("status", ref, "--verifier", "SN3 3BD", "--json")
    assert status["verified"] is True  # type: ignore[index]
    board = run("dashboard", "--json")
    assert board["totals"]["open"] == 1 and board["totals"]["drafts"] == 1  # type: ignore[index]


def test_bad_input_is_a_clear_error_and_exit_code(cli_db: str, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["submit", str(tmp_path / "nope.csv"), "--form", "missed-bin"])
    assert missing.exit_code == 1 and "No such file" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("colour\nred\n")
    refused = runner.invoke(app, ["submit", str(bad), "--form", "missed-bin"])
    assert refused.exit_code == 1 and "not questions on the form: colour" in refused.output
    unknown = runner.invoke(app, ["show", "MB-999999"])
    assert unknown.exit_code == 1 and "There is no case MB-999999" in unknown.output


def test_a_fillable_pdf_round_trips_through_form_pdf_and_read(cli_db: str, tmp_path: Path) -> None:
    from townhall.services.casework.pdf_forms import fill

    blank = tmp_path / "bin.pdf"
    assert "written to" in str(run("form-pdf", "missed-bin", "--out", str(blank)))
    answers = {
        k: "yes" if v is True else "no" if v is False else str(v) for k, v in missed_bin().items()
    }
    filled = tmp_path / "filled.pdf"
    filled.write_bytes(fill(blank.read_bytes(), answers))
    result = run("read", str(filled), "--form", "missed-bin", "--json")
    assert result["method"] == "acroform" and result["status"] == "triaged"  # type: ignore[index]
