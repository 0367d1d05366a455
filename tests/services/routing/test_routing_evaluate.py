"""Routing metrics on a hand-made case whose every figure is worked out below."""

from __future__ import annotations

import numpy as np
import pytest

from townhall.services.routing.evaluate import Outcomes, evaluate_outcomes

# Five messages: two for team a, two for team b, one out of scope. The router's best team,
# its confidence, and whether it routed (confidence >= 0.5, nothing flagged out of scope):
#   truth  a    a    b    b    triage
#   best   a    b    b    b    a
#   conf   0.9  0.6  0.8  0.4  0.7
#   routed yes  yes  yes  no   yes
OUTCOMES = Outcomes(
    truth=np.array(["a", "a", "b", "b", "triage"], dtype=object),
    best=np.array(["a", "b", "b", "b", "a"], dtype=object),
    confidence=np.array([0.9, 0.6, 0.8, 0.4, 0.7]),
    out_of_scope=np.zeros(5, bool),
    routed=np.array([True, True, True, False, True]),
    threshold=0.5,
)


def test_forced_choice_figures_are_exact() -> None:
    result = evaluate_outcomes(OUTCOMES)
    assert (result.messages, result.in_scope, result.out_of_scope) == (5, 4, 1)
    assert result.accuracy == 0.75  # 3 of the 4 in-scope messages
    # a: precision 1/1, recall 1/2, F1 2/3; b: precision 2/3, recall 2/2, F1 0.8.
    assert result.per_team["a"]["precision"] == 1.0
    assert result.per_team["a"]["recall"] == 0.5
    assert result.per_team["b"]["precision"] == pytest.approx(0.6667)
    assert result.per_team["b"]["recall"] == 1.0
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert result.confusion == {"labels": ["a", "b"], "matrix": [[1, 1], [0, 2]]}


def test_abstention_figures_are_exact() -> None:
    result = evaluate_outcomes(OUTCOMES)
    assert result.coverage == 0.8  # 4 of 5 routed
    assert result.routed_precision == 0.5  # right: the first and third; wrong: second, fifth
    assert result.in_scope_routed_correctly == 0.5  # 2 of the 4 in-scope messages
    assert result.out_of_scope_recall == 0.0  # the one out-of-scope message was routed
    assert result.per_team["a"]["routed"] == 2
    assert result.per_team["a"]["routed_precision"] == 0.5
    assert result.per_team["b"]["routed_recall"] == 0.5


def test_coverage_against_accuracy_at_each_threshold() -> None:
    rows = {row["threshold"]: row for row in evaluate_outcomes(OUTCOMES).by_threshold}
    assert rows[0.0] | {"chosen": None} == {
        "threshold": 0.0,
        "coverage": 1.0,
        "accuracy": 0.6,
        "out_of_scope_recall": 0.0,
        "chosen": None,
    }
    assert (rows[0.7]["coverage"], rows[0.7]["accuracy"]) == (0.6, pytest.approx(0.6667))
    assert rows[0.8] | {"chosen": None} == {
        "threshold": 0.8,
        "coverage": 0.4,
        "accuracy": 1.0,
        "out_of_scope_recall": 1.0,
        "chosen": None,
    }
    assert rows[0.5]["chosen"] and not rows[0.8]["chosen"]
    assert rows[0.99]["accuracy"] is None  # nothing routed


def test_messages_flagged_out_of_scope_are_never_routed_at_any_threshold() -> None:
    flagged = Outcomes(**{**OUTCOMES.__dict__, "out_of_scope": np.array([0, 0, 0, 0, 1], bool)})
    rows = {row["threshold"]: row for row in evaluate_outcomes(flagged).by_threshold}
    assert rows[0.0]["out_of_scope_recall"] == 1.0
    assert rows[0.0]["coverage"] == 0.8


def test_as_dict_is_json_ready_and_summary_drops_the_tables() -> None:
    import json

    result = evaluate_outcomes(OUTCOMES)
    assert json.loads(json.dumps(result.as_dict()))["accuracy"] == 0.75
    assert "confusion" not in result.summary() and "macro_f1" in result.summary()
