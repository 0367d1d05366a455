"""Each benchmark script still runs end to end (at a tiny size) and prints valid JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_audit_benchmark_runs_and_reports_json() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "audit.py"), "--entries", "60", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["entries"] == 60
    assert figures["verify_entries_per_second"] > 0


def test_explain_benchmark_runs_and_reports_json() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "explain.py"),
            "--rows",
            "600",
            "--explain",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["explained"] == 10 and figures["features"] == 50
    assert figures["max_additivity_error"] < 1e-6


def test_governance_benchmark_runs_every_part() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "governance.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"privacy", "fairness", "explain"}
    assert figures["explain"]["max_additivity_error"] < 1e-6
