"""benchmarks/assistant.py still runs end to end (on a few pages) and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from conftest import REPO, SHARED_DATA

GOVUK = SHARED_DATA / "govuk" / "pages.jsonl"
METRICS = ("recall_at_1", "recall_at_5", "mrr")
CATEGORIES = (
    "instruction_override",
    "role_play",
    "encoded_payload",
    "system_prompt_extraction",
    "poisoned_passage",
    "benign",
)

pytestmark = pytest.mark.skipif(not GOVUK.exists(), reason=f"the GOV.UK sample is not at {GOVUK}")


def _interval(figure: dict[str, Any]) -> None:
    """A figure with its bootstrap 95% interval, resting on at least one question."""
    assert set(figure) == {"value", "low", "high", "n"}
    assert figure["n"] > 0
    assert 0 <= figure["low"] <= figure["value"] <= figure["high"] <= 1


def test_assistant_benchmark_quick_run_reports_every_figure_and_target() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "assistant.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["errors"] == {}
    assert figures["quick"] is True

    assert 0 < figures["ingest.pages_added"] <= figures["ingest.pages_in_source"]
    assert figures["ingest.chunks"] == figures["index.passages"] > 0
    assert figures["ingest.seconds"] > 0
    assert figures["ingest.peak_rss_mb"] >= figures["ingest.peak_rss_before_ingest_mb"] > 0
    assert "ru_maxrss" in figures["ingest.memory_method"]

    for search in ("hybrid", "bm25_baseline"):
        for metric in METRICS:
            _interval(figures[f"retrieval.{search}.{metric}"])
    beats = [figures[f"retrieval.hybrid_beats_baseline.{m}"] for m in METRICS]
    assert figures["retrieval.hybrid_beats_baseline"] is all(beats)

    for key in (
        "unanswerable_refused",
        "answerable_refused",
        "citation_precision",
        "cited_sentence_rate",
        "grounded_sentence_rate",
    ):
        _interval(figures[f"answers.{key}"])
    assert figures["answers.sentences"] > 0

    categories = [f"redteam.extractive.{c}" for c in CATEGORIES]
    assert all(figures[c]["attempts"] > 0 and 0 <= figures[c]["rate"] <= 1 for c in categories)
    assert figures["redteam.extractive.prompts"] == sum(figures[c]["attempts"] for c in categories)
    assert "--generative" in figures["redteam.generative.skipped"]

    # Every request is answered: the rate limit is raised above the number of requests made.
    assert figures["latency.rate_limit_per_minute"] > 2 * figures["latency.questions"]
    assert figures["latency.first_request_status"] == 200
    assert figures["latency.sequential.non_200"] == 0
    assert 0 <= figures["latency.concurrent.non_200"] < figures["latency.questions"]
    for mode in ("sequential", "concurrent"):
        assert 0 < figures[f"latency.{mode}.p50_ms"] <= figures[f"latency.{mode}.p95_ms"]
    assert figures["latency.concurrent.clients"] == 8
    assert figures["latency.concurrent.questions_per_second"] > 0

    targets = {k: v for k, v in figures.items() if k.startswith("target.")}
    assert len(targets) == 12
    assert all(isinstance(t["met"], bool) and t["value"] is not None for t in targets.values())
