"""The result of a fairness audit as plain data, with its JSON and CSV forms."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Use = Literal["punitive", "assistive"]
Verdict = Literal["pass", "fail", "insufficient evidence"]
PASS: Verdict = "pass"  # noqa: S105 (a verdict, not a password)
FAIL: Verdict = "fail"
INSUFFICIENT: Verdict = "insufficient evidence"

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
    by: list[str]
    use: Use
    judged_metric: str
    threshold: float
    min_group_size: int
    n_bootstrap: int
    rows: int
    groups: list[GroupResult]
    disparities: dict[str, Estimate]
    verdict: Verdict
    reasons: list[str]
    calibration: list[CalibrationBin] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; NaN (a rate with no denominator) becomes None."""
        return _clean(asdict(self))

    def to_csv(self) -> str:
        """One row per group per metric, then one row per overall disparity."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", *self.by, "count", "status", "metric", "value", "low", "high"])
        for g in self.groups:
            keys = [g.group[c] for c in self.by]
            for name, est in g.metrics.items():
                writer.writerow(
                    [g.label, *keys, g.count, g.status, name, *_cells(est)],
                )
        for name, est in self.disparities.items():
            blanks = [""] * len(self.by)
            writer.writerow(["overall", *blanks, self.rows, self.verdict, name, *_cells(est)])
        return out.getvalue()


def _cells(est: Estimate) -> list[str]:
    return ["" if v is None or math.isnan(v) else repr(v) for v in (est.value, est.low, est.high)]


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
