"""benchmarks/routing.py still runs end to end (on small subsets) and prints every figure."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "banking77").is_dir() or not (SHARED_DATA / "clinc150").is_dir(),
    reason=f"Banking77 and CLINC150 are not in {SHARED_DATA}",
)


def test_routing_benchmark_quick_run_reports_both_models_and_every_target() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "routing.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for model in ("tfidf", "hybrid", "cascade"):
        assert 0 < figures[f"banking77.{model}.accuracy"] <= 1
        assert figures[f"clinc150.{model}.out_of_scope_recall"] is not None
        assert figures[f"latency.{model}.p95_ms"] > 0
    assert sum(key.startswith("target.") for key in figures) == 7
