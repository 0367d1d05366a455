"""Scanning CSV / JSON-lines / text files for PII, the CLI over it, and the benchmark script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from townhall.governance.privacy import PrivacyScanError, scan_file
from townhall.governance.privacy_cli import app

REPO = Path(__file__).resolve().parents[2]
RAW_VALUES = ("AB123456C", "943 476 5919", "jo.bloggs@example.org", "07700 900123")


def test_scan_csv_counts_per_column_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "id,email,notes\n"
        "1,jo.bloggs@example.org,NI AB123456C\n"
        '2,,"multi\nline, NHS 943 476 5919"\n'
        "3,,nothing here\n",
        encoding="utf-8",
    )
    report = scan_file(path)
    assert report.format == "csv" and report.records == 3
    assert report.counts == {"EMAIL_ADDRESS": 1, "NI_NUMBER": 1, "NHS_NUMBER": 1}
    assert report.by_field["notes"] == {"NI_NUMBER": 1, "NHS_NUMBER": 1}
    assert {(h.line, h.field, h.entity) for h in report.hits} == {
        (2, "email", "EMAIL_ADDRESS"),
        (2, "notes", "NI_NUMBER"),
        (4, "notes", "NHS_NUMBER"),
    }
    dumped = json.dumps(report.as_dict())
    assert not any(value in dumped for value in RAW_VALUES)


def test_scan_jsonl_reports_nested_field_paths(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    rows = [
        {"from": {"email": "jo.bloggs@example.org"}, "body": "Ring 07700 900123"},
        {"body": "no pii", "tags": ["AB123456C"], "n": 4},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    report = scan_file(path)
    assert report.format == "jsonl" and report.records == 2
    assert report.by_field == {
        "from.email": {"EMAIL_ADDRESS": 1},
        "body": {"PHONE_NUMBER": 1},
        "tags[0]": {"NI_NUMBER": 1},
    }
    assert [h.line for h in report.hits] == [1, 1, 2]


def test_scan_text_file_and_extensionless_sniffing(tmp_path: Path) -> None:
    text = tmp_path / "letter.txt"
    text.write_text("Dear team,\n\nMy NI number is AB123456C.\n", encoding="utf-8")
    report = scan_file(text)
    assert report.format == "text" and report.hits[0].line == 3
    assert report.hits[0].snippet == "My NI number is [NI_NUMBER]."
    bare = tmp_path / "export"
    bare.write_text('{"ni": "AB123456C"}\n', encoding="utf-8")
    assert scan_file(bare).format == "jsonl"


def test_malformed_files_name_the_file_and_line(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"ok": 1}\n{"broken": \n', encoding="utf-8")
    with pytest.raises(PrivacyScanError, match=r"bad\.jsonl:2: not valid JSON"):
        scan_file(bad_json)
    bad_bytes = tmp_path / "bad.txt"
    bad_bytes.write_bytes(b"fine\nalso fine\n\xff\xfe broken\n")
    with pytest.raises(PrivacyScanError, match=r"bad\.txt:3: not valid UTF-8"):
        scan_file(bad_bytes)
    unknown = tmp_path / "data.xlsx"
    unknown.write_bytes(b"PK")
    with pytest.raises(PrivacyScanError, match=r"data\.xlsx: unsupported file type"):
        scan_file(unknown)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n1,2,3\n", encoding="utf-8")
    with pytest.raises(PrivacyScanError, match=r"ragged\.csv:3"):
        scan_file(ragged)


def test_cli_scan_text_and_json_never_print_raw_values(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,notes\njo.bloggs@example.org,NHS 943 476 5919\n", encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(app, ["scan", str(path)])
    assert plain.exit_code == 0, plain.output
    assert "NHS_NUMBER" in plain.output and "field notes" in plain.output
    as_json = runner.invoke(app, ["scan", str(path), "--json"])
    assert json.loads(as_json.output)["counts"] == {"EMAIL_ADDRESS": 1, "NHS_NUMBER": 1}
    for output in (plain.output, as_json.output):
        assert not any(value in output for value in RAW_VALUES)
    missing = runner.invoke(app, ["scan", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2


def test_privacy_benchmark_runs_and_reports_json(tmp_path: Path) -> None:
    # A three-line labelled file keeps this a smoke test; the full set is evaluated elsewhere.
    labelled = tmp_path / "tiny.jsonl"
    full = REPO / "tests" / "governance" / "data" / "uk_pii_labelled.jsonl"
    labelled.write_text("".join(full.read_text("utf-8").splitlines(keepends=True)[:3]), "utf-8")
    script = str(REPO / "benchmarks" / "privacy.py")
    result = subprocess.run(
        [sys.executable, script, "--labelled", str(labelled), "--documents", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["documents"] == 20
    assert figures["redact_documents_per_second"] > 0
    assert all(0 <= s["recall"] <= 1 for s in figures["per_entity"].values())
