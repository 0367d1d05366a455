"""Draw an `AuditReport` as a PNG: one panel per rate, one bar per group, 95% intervals."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

import matplotlib.pyplot as plt

from townhall.governance.fairness_report import SEPARATOR

if TYPE_CHECKING:
    from townhall.governance.fairness_report import AuditReport

TITLES = {
    "selection_rate": "Selection rate",
    "false_positive_rate": "False positive rate",
    "false_negative_rate": "False negative rate",
}


def draw(report: AuditReport) -> bytes:
    names = [n for n in TITLES if report.groups and n in report.groups[0].metrics]
    labels = [g.label for g in report.groups]
    fig, axes = plt.subplots(
        1, len(names), figsize=(4.2 * len(names), 0.45 * len(labels) + 2.0), squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=True):
        values, lower, upper, colours = [], [], [], []
        for g in report.groups:
            est = g.metrics[name]
            v = _num(est.value)
            values.append(v)
            lower.append(v - _num(est.low, v))
            upper.append(_num(est.high, v) - v)
            colours.append(_colour(g.status, name == report.judged_metric))
        y = range(len(labels))
        ax.barh(y, values, xerr=[lower, upper], color=colours, capsize=3, ecolor="#0b0c0c")
        ax.set_yticks(list(y), labels if ax is axes[0][0] else [""] * len(labels))
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        judged = " (judged)" if name == report.judged_metric else ""
        ax.set_title(TITLES[name] + judged, fontsize=10)
    fig.suptitle(
        f"Fairness audit by {SEPARATOR.join(report.by)} ({report.use}): {report.verdict}",
        fontsize=11,
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _num(value: float | None, default: float = 0.0) -> float:
    return default if value is None or math.isnan(value) else value


def _colour(status: str, judged: bool) -> str:
    # GOV.UK palette: grey where the evidence is too thin to judge, red/green on the judged rate.
    if status == "insufficient evidence":
        return "#b1b4b6"
    if not judged:
        return "#1d70b8"
    return "#00703c" if status == "pass" else "#d4351c"
