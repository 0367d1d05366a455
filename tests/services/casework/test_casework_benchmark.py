"""benchmarks/casework.py still runs end to end (--quick) and prints its figures as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_casework_benchmark_quick_run_reports_intake_and_documents() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "casework.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["quick"] is True
    assert figures["intake.applications"] == 40
    assert figures["intake.other_statuses"] == {}  # only 201s and drafts' 422s
    assert figures["intake.kept_as_draft_422"] == 4 and figures["intake.submitted_201"] == 36
    assert figures["intake.applications_per_second"] > 0
    for kind in ("acroform", "text_pdf"):
        assert (
            figures[f"documents.{kind}.fields_read"] == figures[f"documents.{kind}.fields_expected"]
        )
        assert figures[f"documents.{kind}.ms_per_page"] > 0
    assert "documents.ocr_png.ms_per_page" in figures or "skipped" in figures["documents.ocr"]
