"""Fairness audits over the decision records of one decision type.

The model's proposal is the prediction and the reviewer's final decision is the observed outcome,
so only reviewed decisions (accepted or overridden) count. Characteristics come from
``subject_characteristics``; a subject with none recorded falls in a "not recorded" group rather
than being dropped, so missing data is visible in the report.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.core import audit as audit_log
from townhall.core.decisions import DecisionRecord, Status
from townhall.governance.characteristics import characteristics_frame, check_characteristics
from townhall.governance.fairness import AuditReport, FairnessAuditError, Use, audit
from townhall.governance.fairness_policy import policy_in_force


def decisions_frame(
    session: Session, decision_type: str, *, positive_outcome: str, by: list[str]
) -> pd.DataFrame:
    check_characteristics(by)
    rows = session.execute(
        select(
            DecisionRecord.subject_ref,
            DecisionRecord.output,
            DecisionRecord.final_output,
        ).where(
            DecisionRecord.decision_type == decision_type,
            DecisionRecord.status.in_([Status.ACCEPTED.value, Status.OVERRIDDEN.value]),
        )
    ).all()
    if not rows:
        known = session.scalar(
            select(DecisionRecord.id).where(DecisionRecord.decision_type == decision_type).limit(1)
        )
        if known is None:
            raise FairnessAuditError(f"No decisions of type {decision_type!r} are recorded.")
        raise FairnessAuditError(
            f"No {decision_type!r} decisions have been reviewed yet, so "
            "there are no outcomes to audit against."
        )
    frame = pd.DataFrame(
        {
            "subject_ref": [r.subject_ref for r in rows],
            "proposed": [int(r.output.get("outcome") == positive_outcome) for r in rows],
            "decided": [
                int((r.final_output or {}).get("outcome") == positive_outcome) for r in rows
            ],
        }
    )
    groups = characteristics_frame(session, list(dict.fromkeys(frame["subject_ref"])), by)
    return frame.join(groups, on="subject_ref")


def audit_decision_type(
    session: Session,
    decision_type: str,
    *,
    by: list[str],
    positive_outcome: str,
    use: Use,
    actor: str,
    policy_file: Path | None = None,
    on: date | None = None,
    min_group_size: int | None = None,
    n_bootstrap: int = 1000,
    random_state: int | None = 0,
) -> AuditReport:
    """Audit against the entry of `policy_file` (default: the shipped policy) in force on `on`."""
    on = on or date.today()
    policy = policy_in_force(on, policy_file)
    frame = decisions_frame(session, decision_type, positive_outcome=positive_outcome, by=by)
    report = audit(
        frame,
        y_pred="proposed",
        y_true="decided",
        by=by,
        use=use,
        policy=policy,
        on=on,
        min_group_size=min_group_size,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
    )
    audit_log.log(
        session,
        actor,
        "fairness.audited",
        f"decision_type:{decision_type}",
        {
            "by": by,
            "verdict": report.verdict,
            "rows": report.rows,
            "policy_from": report.policy_from.isoformat(),
            "threshold": report.threshold,
            "min_group_size": report.min_group_size,
            "overridden": report.overridden,
        },
    )
    return report
