"""How fast a full fairness audit runs over many decisions, with bootstrap intervals.

    python benchmarks/fairness.py [--rows 1000000] [--bootstrap 200] [--json]

Builds N synthetic decision records (sex by age_band, a built-in disparity), then times
`fairness.audit` end to end: validation, fairlearn's point estimates, the stratified bootstrap and
calibration by group. The chart and CSV are timed separately.
"""

from __future__ import annotations

import argparse
import time

from report import emit  # the sibling module; scripts run with this folder on sys.path

from townhall.governance import fairness
from townhall.governance.fairness_data import synthetic_decisions


def run(rows: int, bootstrap: int) -> dict[str, object]:
    started = time.perf_counter()
    frame = synthetic_decisions(rows, random_state=0)
    build_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report = fairness.audit(
        frame,
        y_pred="y_pred",
        y_true="y_true",
        y_score="y_score",
        by=["sex", "age_band"],
        use="punitive",
        n_bootstrap=bootstrap,
        random_state=0,
    )
    audit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report.to_csv()
    fairness.report_chart(report)
    render_seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "groups": len(report.groups),
        "bootstrap_resamples": bootstrap,
        "verdict": report.verdict,
        "build_seconds": round(build_seconds, 3),
        "audit_seconds": round(audit_seconds, 3),
        "rows_per_second": round(rows / audit_seconds, 1),
        "csv_and_chart_seconds": round(render_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.rows, args.bootstrap)
    emit(figures, as_json=args.json)


if __name__ == "__main__":
    main()
