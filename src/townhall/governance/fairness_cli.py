"""`townhall fairness ...`: fairness audits from the command line (a Typer sub-app)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from townhall.core.errors import TownhallError

if TYPE_CHECKING:
    from townhall.governance.fairness_report import AuditReport, Estimate

app = typer.Typer(help="Fairness audits across protected characteristics.", no_args_is_help=True)


class Dataset(StrEnum):
    adult = "adult"
    compas = "compas"


DEFAULT_BY = {Dataset.adult: "sex", Dataset.compas: "race"}


@app.callback()
def main() -> None:
    """Fairness audits across protected characteristics."""
    # A callback keeps `demo` a sub-command while it is the only one (Typer would flatten it).


@app.command()
def demo(
    dataset: Annotated[Dataset, typer.Argument(help="adult (assistive) or compas (punitive).")],
    by: Annotated[
        str | None, typer.Option(help="Characteristics, comma-separated: sex,race,age_band.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed for the bootstrap.")] = 0,
    policy: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Fairness policy YAML; default: the shipped one."),
    ] = None,
    on: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Judge by the policy in force on this date."),
    ] = None,
) -> None:
    """Audit real public decisions: COMPAS risk scores or a model of Adult incomes."""
    from townhall.governance import fairness, fairness_data
    from townhall.governance.fairness_policy import policy_in_force

    if dataset is Dataset.compas:
        frame, use = fairness_data.load_compas(), "punitive"
    else:
        frame, use = fairness_data.adult_decisions(), "assistive"
    columns = [c.strip() for c in (by or DEFAULT_BY[dataset]).split(",") if c.strip()]
    day = on.date() if on is not None else date.today()
    try:
        report = fairness.audit(
            frame,
            y_pred="y_pred",
            y_true="y_true",
            y_score="y_score",
            by=columns,
            use=use,  # type: ignore[arg-type]
            policy=policy_in_force(day, policy),
            on=day,
            n_bootstrap=bootstrap,
            random_state=seed,
        )
    except TownhallError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(render(report, dataset.value))


def render(report: AuditReport, name: str) -> str:
    """A plain-text table: one line per group, then the disparities and the verdict."""
    from townhall.governance.fairness_report import SEPARATOR

    judged = report.judged_metric
    caller = " (set for this audit, not by the policy)"
    lines = [
        f"Fairness audit of {name}: {report.rows} decisions by {SEPARATOR.join(report.by)}, "
        f"{report.use} use, judged on {judged.replace('_', ' ')} (ratio >= {report.threshold})",
        f"audit date {report.audited_on.isoformat()}; policy in force from "
        f"{report.policy_from.isoformat()}: {report.policy_reference}",
        f"minimum ratio {report.threshold}"
        + (caller if "threshold" in report.overridden else "")
        + f"; minimum group size {report.min_group_size}"
        + (caller if "min_group_size" in report.overridden else ""),
        "",
        f"{'group':<34}{'count':>7}  {'selected':>8}  {'FPR [95% CI]':>20}  "
        f"{'FNR [95% CI]':>20}  status",
    ]
    for g in report.groups:
        m = g.metrics
        lines.append(
            f"{g.label[:33]:<34}{g.count:>7}  {_pct(m['selection_rate'].value):>8}  "
            f"{_ci(m.get('false_positive_rate')):>20}  {_ci(m.get('false_negative_rate')):>20}  "
            f"{g.status}"
        )
    lines.append("")
    for metric, est in report.disparities.items():
        lines.append(f"{metric.replace('_', ' '):<34}{_ci(est, pct=False):>22}")
    lines += ["", f"verdict: {report.verdict.upper()}", *(f"  - {r}" for r in report.reasons)]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def _ci(est: Estimate | None, *, pct: bool = True) -> str:
    if est is None or est.value is None or math.isnan(est.value):
        return "-"
    show = _pct if pct else (lambda v: "-" if v is None else f"{v:.3f}")
    if est.low is None:
        return show(est.value)
    return f"{show(est.value)} [{show(est.low)}, {show(est.high)}]"
