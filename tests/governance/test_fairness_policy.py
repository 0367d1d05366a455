"""Fairness thresholds come from the dated policy file in force on the audit date."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from townhall.core.parameters import MalformedParameters, NotInForce
from townhall.governance.fairness import FairnessAuditError, audit
from townhall.governance.fairness_cli import app, render
from townhall.governance.fairness_policy import (
    DEFAULT_POLICY_FILE,
    FairnessThresholds,
    load_policy,
    policy_in_force,
)
from townhall.governance.fairness_report import POLICY_COLUMNS

REPO = Path(__file__).resolve().parents[2]


def two_groups(flagged_b: int) -> pd.DataFrame:
    """Groups a and b of 1000 (500 negatives each); a has 100 false positives, b `flagged_b`."""
    parts = []
    for name, false_positives in (("a", 100), ("b", flagged_b)):
        y_true = np.array([0] * 500 + [1] * 500)
        y_pred = y_true.copy()
        y_pred[:false_positives] = 1
        y_pred[500:600] = 0  # the same false negative rate, 0.2, in both
        parts.append(pd.DataFrame({"race": name, "y_true": y_true, "y_pred": y_pred}))
    return pd.concat(parts, ignore_index=True)


def run(frame: pd.DataFrame, **kwargs: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "y_pred": "y_pred",
        "y_true": "y_true",
        "by": ["race"],
        "use": "punitive",
        "n_bootstrap": 20,
        "random_state": 0,
    }
    options.update(kwargs)
    return audit(frame, **options)  # type: ignore[arg-type]


STRICTER = """
- from: 2024-04-01
  policy: Fairness audit standard, as first adopted
  min_group_size: 30
  min_ratio: {punitive: 0.8, assistive: 0.8}
- from: 2026-01-01
  policy: Fairness audit standard, revised (committee minute 7/25)
  min_group_size: 30
  min_ratio: {punitive: 0.9, assistive: 0.8}
"""


def test_shipped_policy_is_the_four_fifths_rule_with_its_reference() -> None:
    policy = load_policy()
    assert policy.source == "fairness_policy.yaml"
    first = policy.entries[0]
    assert first.effective_from == date(2024, 4, 1)
    assert first.values == FairnessThresholds.model_validate(
        {"min_group_size": 30, "min_ratio": {"punitive": 0.8, "assistive": 0.8}}
    )
    assert "Equality Act 2010, s.149" in first.policy
    assert "four-fifths" in first.policy
    assert policy_in_force().values.min_group_size == 30  # in force today


def test_shipped_policy_file_explains_how_to_add_an_entry() -> None:
    assert DEFAULT_POLICY_FILE.parent == REPO / "src" / "townhall" / "governance"
    header = DEFAULT_POLICY_FILE.read_text(encoding="utf-8").split("\n- from:")[0]
    assert all(line.startswith("#") for line in header.strip().splitlines())
    assert "add a new entry" in header
    assert "fairness_policy_file" in header


def test_report_states_the_policy_reference_date_and_thresholds() -> None:
    report = run(two_groups(115))
    shipped = policy_in_force()
    assert report.policy_reference == shipped.policy
    assert report.policy_from == date(2024, 4, 1)
    assert report.audited_on == date.today()
    assert (report.threshold, report.min_group_size) == (0.8, 30)
    assert report.overridden == []

    data = json.loads(json.dumps(report.to_dict()))
    assert data["policy_reference"] == shipped.policy
    assert data["policy_from"] == "2024-04-01"
    assert data["audited_on"] == date.today().isoformat()
    assert (data["threshold"], data["min_group_size"]) == (0.8, 30)

    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert list(rows[0])[-len(POLICY_COLUMNS) :] == list(POLICY_COLUMNS)
    for row in rows:
        assert row["policy_reference"] == shipped.policy
        assert (row["policy_from"], row["threshold"], row["min_group_size"]) == (
            "2024-04-01",
            "0.8",
            "30",
        )

    text = render(report, "test data")
    assert shipped.policy in text
    assert "policy in force from 2024-04-01" in text
    assert "minimum ratio 0.8; minimum group size 30" in text


def test_a_later_stricter_entry_turns_a_pass_into_a_fail_on_the_same_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(STRICTER, encoding="utf-8")
    frame = two_groups(115)  # false positive rates 0.2 and 0.23: a ratio of 0.87
    before = run(frame, policy=policy_in_force(date(2025, 12, 31), path), on=date(2025, 12, 31))
    after = run(frame, policy=policy_in_force(date(2026, 1, 1), path), on=date(2026, 1, 1))
    assert before.verdict == "pass"
    assert (before.threshold, before.policy_from) == (0.8, date(2024, 4, 1))
    assert before.policy_reference == "Fairness audit standard, as first adopted"
    assert after.verdict == "fail"
    assert (after.threshold, after.policy_from) == (0.9, date(2026, 1, 1))
    assert after.policy_reference == "Fairness audit standard, revised (committee minute 7/25)"
    assert {g.label: g.status for g in after.groups} == {"a": "pass", "b": "fail"}
    assert any("ratio below 0.9 for: b" in reason for reason in after.reasons)
    # Assistive use kept 0.8 in the revision.
    assistive = run(frame, use="assistive", policy=policy_in_force(date(2026, 1, 1), path))
    assert assistive.threshold == 0.8


def test_the_minimum_group_size_comes_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        STRICTER + "- from: 2026-02-01\n  policy: Larger groups\n  min_group_size: 600\n"
        "  min_ratio: {punitive: 0.9, assistive: 0.8}\n",
        encoding="utf-8",
    )
    report = run(two_groups(100), policy=policy_in_force(date(2026, 2, 1), path))
    # 500 people in each group are at risk of a false positive: under 600, so not judged.
    assert report.min_group_size == 600
    assert report.verdict == "insufficient evidence"
    assert {g.status for g in report.groups} == {"insufficient evidence"}


def test_explicit_figures_override_the_policy_and_the_report_says_so() -> None:
    frame = two_groups(115)
    report = run(frame, threshold=0.9, min_group_size=20)
    assert report.verdict == "fail"
    assert (report.threshold, report.min_group_size) == (0.9, 20)
    assert report.overridden == ["threshold", "min_group_size"]
    assert report.to_dict()["overridden"] == ["threshold", "min_group_size"]
    assert "minimum ratio 0.9 (set for this audit, not by the policy)" in render(report, "x")
    # Restating the policy's own figure is not an override.
    assert run(frame, threshold=0.8, min_group_size=30).overridden == []


def test_a_policy_not_yet_in_force_on_the_audit_date_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(STRICTER, encoding="utf-8")
    later = policy_in_force(date(2026, 6, 1), path)
    with pytest.raises(FairnessAuditError, match="takes effect from 2026-01-01, after the audit"):
        run(two_groups(100), policy=later, on=date(2025, 6, 1))
    with pytest.raises(NotInForce, match="no entry is in force on 2024-03-31"):
        run(two_groups(100), on=date(2024, 3, 31))  # before the shipped policy began


@pytest.mark.parametrize(
    ("figures", "words"),
    [
        ("min_group_size: 0\n  min_ratio: {punitive: 0.8, assistive: 0.8}", "min_group_size"),
        ("min_group_size: 30.5\n  min_ratio: {punitive: 0.8, assistive: 0.8}", "min_group_size"),
        ("min_group_size: 30\n  min_ratio: {punitive: 1.2, assistive: 0.8}", "punitive"),
        ("min_group_size: 30\n  min_ratio: {punitive: 0.8}", "min_ratio.assistive"),
        ("min_group_size: 30\n  min_ratio: {punitive: 0.8, assistive: 0.8, other: 1}", "other"),
        ("min_group_size: 30\n  min_ratios: {punitive: 0.8, assistive: 0.8}", "min_ratios"),
    ],
)
def test_policy_figures_are_checked(tmp_path: Path, figures: str, words: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f"- from: 2024-04-01\n  policy: Standard\n  {figures}\n", encoding="utf-8")
    with pytest.raises(
        MalformedParameters, match=r"^policy\.yaml: entry 1 \(from 2024-04-01\)"
    ) as e:
        load_policy(path)
    assert words in e.value.message


def test_cli_demo_takes_a_policy_file_and_an_audit_date(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(STRICTER, encoding="utf-8")
    args = ["demo", "compas", "--json", "--bootstrap", "20", "--policy", str(path)]
    result = CliRunner().invoke(app, [*args, "--on", "2025-06-30"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["audited_on"], data["policy_from"], data["threshold"]) == (
        "2025-06-30",
        "2024-04-01",
        0.8,
    )
    early = CliRunner().invoke(app, [*args, "--on", "2023-01-01"])
    assert early.exit_code == 2 and "no entry is in force on 2023-01-01" in early.output
