"""The result of a fairness audit as plain data, with its JSON and CSV forms."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

Use = Literal["punitive", "assistive"]
Verdict = Literal["pass", "fail", "insufficient evidence"]
PASS: Verdict = "pass"  # noqa: S105 (a verdict, not a password)
FAIL: Verdict = "fail"
INSUFFICIENT: Verdict = "insufficient evidence"

POLICY_COLUMNS = (
    "threshold",
    "min_group_size",
    "audited_on",
    "policy_from",
    "policy_reference",
    "overridden",
)
SEPARATOR = " \N{MULTIPLICATION SIGN} "  # joins an intersection's values into one label


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class GroupResult:
    group: dict[str, str]
    label: str
    count: int
    status: Verdict
    metrics: dict[str, Estimate]
    judged_ratio: float | None


@dataclass(frozen=True)
class CalibrationBin:
    label: str
    bin_low: float
    bin_high: float
    count: int
    mean_score: float
    observed_rate: float


@dataclass(frozen=True)
class AuditReport:
    """`threshold` (the minimum ratio) and `min_group_size` are the figures the audit used: those
    of the policy in force on `audited_on`, unless a caller overrode the ones named in
    `overridden`."""

    by: list[str]
    use: Use
    judged_metric: str
    threshold: float
    min_group_size: int
    audited_on: date
    policy_reference: str
    policy_from: date
    n_bootstrap: int
    rows: int
    groups: list[GroupResult]
    disparities: dict[str, Estimate]
    verdict: Verdict
    reasons: list[str]
    calibration: list[CalibrationBin] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; NaN (a rate with no denominator) becomes None."""
        return _clean(asdict(self))

    def to_csv(self) -> str:
        """One row per group per metric, then one row per overall disparity.

        Every row ends with the figures judged against and the policy they come from, so that a
        row read on its own still says what its status means.
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "group",
                *self.by,
                "count",
                "status",
                "metric",
                "value",
                "low",
                "high",
                *POLICY_COLUMNS,
            ]
        )
        policy = self._policy_cells()
        for g in self.groups:
            keys = [g.group[c] for c in self.by]
            for name, est in g.metrics.items():
                writer.writerow(
                    [g.label, *keys, g.count, g.status, name, *_cells(est), *policy],
                )
        for name, est in self.disparities.items():
            blanks = [""] * len(self.by)
            writer.writerow(
                ["overall", *blanks, self.rows, self.verdict, name, *_cells(est), *policy]
            )
        return out.getvalue()

    def _policy_cells(self) -> list[str]:
        return [
            repr(self.threshold),
            str(self.min_group_size),
            self.audited_on.isoformat(),
            self.policy_from.isoformat(),
            self.policy_reference,
            " ".join(self.overridden),
        ]


def _cells(est: Estimate) -> list[str]:
    return ["" if v is None or math.isnan(v) else repr(v) for v in (est.value, est.low, est.high)]


def _clean(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
