"""The fairness audit engine: fairlearn-exact estimates, bootstrap intervals, verdicts, outputs."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from townhall.core.errors import InvalidInput
from townhall.governance import fairness
from townhall.governance.fairness import (
    EmptyData,
    FairnessAuditError,
    MissingGroupValues,
    MissingOutcomes,
    NonBinaryLabels,
    UnknownCharacteristic,
    audit,
)
from townhall.governance.fairness_cli import app
from townhall.governance.fairness_data import (
    adult_decisions,
    load_compas,
    synthetic_decisions,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compas() -> pd.DataFrame:
    return load_compas()


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return adult_decisions()


def run(frame: pd.DataFrame, by: list[str], **kwargs: object) -> fairness.AuditReport:
    options: dict[str, object] = {
        "y_pred": "y_pred",
        "y_true": "y_true",
        "use": "punitive",
        "n_bootstrap": 50,
        "random_state": 0,
    }
    options.update(kwargs)
    return audit(frame, by=by, **options)  # type: ignore[arg-type]


def assert_matches_fairlearn(frame: pd.DataFrame, by: list[str]) -> None:
    report = run(frame, by)
    sf = frame[by].astype(str)
    y_true, y_pred = frame["y_true"], frame["y_pred"]
    reference = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sf,
    )
    for group in report.groups:
        key = tuple(group.group[c] for c in by)
        row = reference.by_group.loc[key if len(by) > 1 else key[0]]
        for name in ("selection_rate", "false_positive_rate", "false_negative_rate"):
            assert group.metrics[name].value == pytest.approx(row[name], abs=1e-12, nan_ok=True)
    expected = {
        "demographic_parity_difference": demographic_parity_difference,
        "demographic_parity_ratio": demographic_parity_ratio,
        "equalized_odds_difference": equalized_odds_difference,
        "equalized_odds_ratio": equalized_odds_ratio,
    }
    for name, metric in expected.items():
        value = metric(y_true, y_pred, sensitive_features=sf)
        assert report.disparities[name].value == pytest.approx(value, abs=1e-12)
    for name in ("false_positive_rate", "false_negative_rate"):
        diff = reference.difference()[name]
        ratio = reference.ratio()[name]
        assert report.disparities[f"{name}_difference"].value == pytest.approx(diff, abs=1e-12)
        assert report.disparities[f"{name}_ratio"].value == pytest.approx(ratio, abs=1e-12)
    assert sum(g.count for g in report.groups) == len(frame)


def test_estimates_equal_fairlearns_on_compas(compas: pd.DataFrame) -> None:
    assert_matches_fairlearn(compas, ["race"])
    assert_matches_fairlearn(compas, ["sex", "age_band"])


def test_estimates_equal_fairlearns_on_adult(adult: pd.DataFrame) -> None:
    assert_matches_fairlearn(adult, ["sex"])
    assert_matches_fairlearn(adult, ["sex", "race"])


def test_estimates_equal_fairlearns_on_synthetic_data() -> None:
    assert_matches_fairlearn(synthetic_decisions(20_000, random_state=3), ["sex", "age_band"])


def test_precision_and_counts_per_group_are_right(compas: pd.DataFrame) -> None:
    report = run(compas, ["sex"])
    for group in report.groups:
        rows = compas[compas["sex"] == group.group["sex"]]
        flagged = rows[rows["y_pred"] == 1]
        assert group.count == len(rows)
        assert group.metrics["precision"].value == pytest.approx(flagged["y_true"].mean())


def rounded(value: object) -> object:
    # Sums of scores in another order can differ in the last bit; nothing else may differ.
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(40, 400))
def test_report_does_not_depend_on_row_order(seed: int, n: int) -> None:
    frame = synthetic_decisions(n, random_state=seed % 1000)
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    options = {"y_score": "y_score", "min_group_size": 10, "n_bootstrap": 30}
    original = run(frame, ["sex", "age_band"], **options).to_dict()
    reordered = run(shuffled, ["sex", "age_band"], **options).to_dict()
    assert rounded(original) == rounded(reordered)


def test_intersections_group_by_every_combination(compas: pd.DataFrame) -> None:
    report = run(compas, ["sex", "age_band"])
    expected = compas.groupby(["sex", "age_band"]).size()
    assert [tuple(g.group.values()) for g in report.groups] == list(expected.index)
    assert [g.count for g in report.groups] == expected.tolist()
    assert report.groups[0].label == "female \N{MULTIPLICATION SIGN} 25 - 45"


def fair_frame(groups: dict[str, int]) -> pd.DataFrame:
    """Every group with identical rates: FPR 0.2, FNR 0.2."""
    parts = []
    for name, size in groups.items():
        y_true = np.array([0] * (size // 2) + [1] * (size - size // 2))
        y_pred = y_true.copy()
        y_pred[: size // 10] = 1  # a fifth of the negatives flagged
        y_pred[size // 2 : size // 2 + size // 10] = 0  # a fifth of the positives missed
        parts.append(pd.DataFrame({"race": name, "y_true": y_true, "y_pred": y_pred}))
    return pd.concat(parts, ignore_index=True)


def test_insufficient_groups_never_pass_even_when_rates_match() -> None:
    report = run(fair_frame({"a": 1000, "b": 1000, "c": 20}), ["race"])
    status = {g.label: g.status for g in report.groups}
    assert status == {"a": "pass", "b": "pass", "c": "insufficient evidence"}
    assert report.verdict == "insufficient evidence"
    assert any("c" in reason for reason in report.reasons)


def test_all_sufficient_groups_in_parity_pass() -> None:
    report = run(fair_frame({"a": 1000, "b": 400}), ["race"])
    assert report.verdict == "pass"
    assert all(g.judged_ratio == pytest.approx(1.0) for g in report.groups)


def test_a_small_group_does_not_hide_a_failure_elsewhere() -> None:
    frame = fair_frame({"a": 1000, "b": 1000, "c": 20})
    negatives_b = frame.index[(frame["race"] == "b") & (frame["y_true"] == 0)]
    frame.loc[negatives_b[:300], "y_pred"] = 1
    report = run(frame, ["race"])
    assert report.verdict == "fail"
    assert {g.label: g.status for g in report.groups}["b"] == "fail"


def test_punitive_is_judged_on_fpr_and_assistive_on_fnr() -> None:
    frame = fair_frame({"a": 1000, "b": 1000})
    # Group b: many more false positives, same false negative rate.
    negatives_b = frame.index[(frame["race"] == "b") & (frame["y_true"] == 0)]
    frame.loc[negatives_b[:300], "y_pred"] = 1
    punitive = run(frame, ["race"], use="punitive")
    assistive = run(frame, ["race"], use="assistive")
    assert punitive.judged_metric == "false_positive_rate"
    assert punitive.verdict == "fail"
    assert assistive.judged_metric == "false_negative_rate"
    assert assistive.verdict == "pass"
    # And the other way round: missed positives harm an assistive decision.
    frame = fair_frame({"a": 1000, "b": 1000})
    positives_b = frame.index[(frame["race"] == "b") & (frame["y_true"] == 1)]
    frame.loc[positives_b[:300], "y_pred"] = 0
    assert run(frame, ["race"], use="punitive").verdict == "pass"
    assert run(frame, ["race"], use="assistive").verdict == "fail"


def test_threshold_is_configurable() -> None:
    frame = fair_frame({"a": 1000, "b": 1000})
    negatives_b = frame.index[(frame["race"] == "b") & (frame["y_true"] == 0)]
    frame.loc[negatives_b[-50:], "y_pred"] = 1  # FPR 0.2 vs 0.3: ratio 2/3
    assert run(frame, ["race"], threshold=0.8).verdict == "fail"
    assert run(frame, ["race"], threshold=0.6).verdict == "pass"


def test_without_outcomes_only_selection_rates_are_reported_and_nothing_passes(
    compas: pd.DataFrame,
) -> None:
    report = run(compas, ["sex"], y_true=None)
    assert report.verdict == "insufficient evidence"
    assert set(report.groups[0].metrics) == {"selection_rate"}
    assert set(report.disparities) == {"demographic_parity_difference", "demographic_parity_ratio"}


def test_bootstrap_intervals_contain_estimates_and_repeat_with_a_seed(
    compas: pd.DataFrame,
) -> None:
    report = run(compas, ["sex", "age_band"], n_bootstrap=300, random_state=7)
    for group in report.groups:
        for est in group.metrics.values():
            assert est.low is not None and est.high is not None
            assert est.low <= est.value <= est.high
    for est in report.disparities.values():
        assert est.low is not None and est.high is not None
        assert est.low <= est.value <= est.high
    again = run(compas, ["sex", "age_band"], n_bootstrap=300, random_state=7)
    other = run(compas, ["sex", "age_band"], n_bootstrap=300, random_state=8)
    assert again.to_dict() == report.to_dict()
    assert other.to_dict() != report.to_dict()


def test_calibration_bins_compare_mean_score_with_observed_rate(compas: pd.DataFrame) -> None:
    report = run(compas, ["sex"], y_score="y_score")
    assert sum(b.count for b in report.calibration) == len(compas)
    top = [b for b in report.calibration if b.label == "male" and b.bin_low == pytest.approx(0.9)]
    # Scores of exactly 1.0 (decile 10) share the top bin with decile 9.
    rows = compas[(compas["sex"] == "male") & (compas["decile_score"] >= 9)]
    assert top[0].count == len(rows)
    assert top[0].observed_rate == pytest.approx(rows["y_true"].mean())
    assert top[0].mean_score == pytest.approx(rows["y_score"].mean())


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda f: f, UnknownCharacteristic, "not a protected characteristic"),
        (lambda f: f.drop(columns=["sex"]), UnknownCharacteristic, "no column 'sex'"),
        (lambda f: f.iloc[:0], EmptyData, "no decisions"),
        (lambda f: f.assign(y_pred=f["y_score"]), NonBinaryLabels, "0/1"),
        (lambda f: f.assign(y_true=f["y_true"] * 2), NonBinaryLabels, "'y_true'"),
    ],
)
def test_bad_input_raises_a_clear_error(change, error, words) -> None:  # type: ignore[no-untyped-def]
    frame = change(synthetic_decisions(100))
    by = ["income"] if error is UnknownCharacteristic and "protected" in words else ["sex"]
    with pytest.raises(error, match=words) as caught:
        run(frame, by)
    assert isinstance(caught.value, FairnessAuditError)
    assert isinstance(caught.value, InvalidInput)


def test_missing_group_values_are_counted_in_the_error() -> None:
    frame = synthetic_decisions(100)
    frame.loc[:6, "sex"] = None
    with pytest.raises(MissingGroupValues, match="'sex' has 7 missing value"):
        run(frame, ["sex"])


def test_scores_without_outcomes_are_refused() -> None:
    with pytest.raises(MissingOutcomes, match="y_true"):
        run(synthetic_decisions(100), ["sex"], y_true=None, y_score="y_score")


def test_csv_has_one_row_per_group_per_metric(compas: pd.DataFrame) -> None:
    report = run(compas, ["sex", "age_band"])
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    per_group = [r for r in rows if r["group"] != "overall"]
    assert len(per_group) == len(report.groups) * 4
    assert len(rows) - len(per_group) == len(report.disparities)
    first = per_group[0]
    assert (first["sex"], first["age_band"], first["metric"]) == (
        "female",
        "25 - 45",
        "selection_rate",
    )
    assert float(first["value"]) == pytest.approx(report.groups[0].metrics["selection_rate"].value)


def test_report_is_json_serialisable(compas: pd.DataFrame) -> None:
    data = json.loads(json.dumps(run(compas, ["race"], y_score="y_score").to_dict()))
    assert data["verdict"] == "fail"
    assert data["groups"][0]["metrics"]["false_positive_rate"]["value"] > 0


def test_chart_is_a_png(compas: pd.DataFrame) -> None:
    png = fairness.report_chart(run(compas, ["sex", "age_band"]))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5000


def test_cli_demo_audits_compas_and_fails_on_race() -> None:
    result = CliRunner().invoke(app, ["demo", "compas", "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    assert "African-American" in result.output
    assert "verdict: FAIL" in result.output


def test_cli_demo_prints_json_for_an_intersection() -> None:
    result = CliRunner().invoke(
        app, ["demo", "compas", "--by", "sex,age_band", "--json", "--bootstrap", "50"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["by"] == ["sex", "age_band"]
    assert data["use"] == "punitive"
    assert len(data["groups"]) == 6


def test_cli_demo_reports_an_unknown_characteristic() -> None:
    result = CliRunner().invoke(app, ["demo", "compas", "--by", "decile_score"])
    assert result.exit_code == 2
    assert "not a protected characteristic" in result.output


def test_benchmark_runs_and_reports_json() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fairness.py"), "--rows", "5000", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["rows"] == 5000
    assert figures["groups"] == 6
