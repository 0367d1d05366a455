"""The fairness report page: audit a decision type by characteristics, with a chart and CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select

from townhall.core.auth import User
from townhall.core.decisions import DecisionRecord
from townhall.core.errors import InvalidInput
from townhall.core.permissions import FAIRNESS_READ
from townhall.core.web import SessionDep, SettingsDep, requires, templates
from townhall.governance.fairness import PROTECTED_CHARACTERISTICS, AuditReport, report_chart
from townhall.governance.fairness_records import audit_decision_type

router = APIRouter(prefix="/fairness", default_response_class=HTMLResponse, include_in_schema=False)
Analyst = Annotated[User, requires(FAIRNESS_READ)]
BOOTSTRAP = 500


class Params:
    def __init__(
        self,
        decision_type: Annotated[str, Query(max_length=100)] = "",
        by: Annotated[list[str] | None, Query(max_length=40)] = None,
        positive: Annotated[str, Query(max_length=200)] = "",
        use: Annotated[Literal["punitive", "assistive"], Query()] = "punitive",
        # Unset: the policy's figure, which the page states beside the verdict.
        min_group_size: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> None:
        self.decision_type, self.by, self.positive = decision_type, by or [], positive
        self.use, self.min_group_size = use, min_group_size

    @property
    def ready(self) -> bool:
        return bool(self.decision_type and self.by and self.positive)


def _run(session: SessionDep, settings: SettingsDep, user: User, params: Params) -> AuditReport:
    return audit_decision_type(
        session,
        params.decision_type,
        by=params.by,
        positive_outcome=params.positive,
        use=params.use,
        actor=f"user:{user.id}",
        policy_file=settings.fairness_policy_file,
        min_group_size=params.min_group_size,
        n_bootstrap=BOOTSTRAP,
    )


@router.get("")
def fairness_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Analyst,
    params: Annotated[Params, Depends()],
) -> Response:
    types = list(
        session.scalars(
            select(DecisionRecord.decision_type).distinct().order_by(DecisionRecord.decision_type)
        )
    )
    report, errors = None, {}
    if params.ready:
        try:
            report = _run(session, settings, user, params)
        except InvalidInput as exc:
            errors["decision_type"] = exc.message
    elif request.query_params:
        errors = {
            name: text
            for name, text in (
                ("decision_type", "Choose a decision type"),
                ("by", "Choose at least one characteristic"),
                ("positive", "Enter the outcome that counts as selected"),
            )
            if not getattr(params, name if name != "positive" else "positive")
        }
    return templates.TemplateResponse(
        request,
        "fairness/report.html",
        {
            "title": "Fairness audit",
            "types": types,
            "params": params,
            "report": report,
            "characteristics": PROTECTED_CHARACTERISTICS,
            "errors": errors,
            "error_title": bool(errors),
            "query": request.url.query,
        },
        status_code=422 if errors else 200,
    )


@router.get("/chart.png")
def fairness_chart(
    session: SessionDep,
    settings: SettingsDep,
    user: Analyst,
    params: Annotated[Params, Depends()],
) -> Response:
    if not params.ready:
        raise InvalidInput("Choose a decision type, characteristics and the selected outcome.")
    return Response(report_chart(_run(session, settings, user, params)), media_type="image/png")


@router.get("/report.csv")
def fairness_csv(
    session: SessionDep,
    settings: SettingsDep,
    user: Analyst,
    params: Annotated[Params, Depends()],
) -> PlainTextResponse:
    if not params.ready:
        raise InvalidInput("Choose a decision type, characteristics and the selected outcome.")
    return PlainTextResponse(
        _run(session, settings, user, params).to_csv(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="fairness-audit.csv"'},
    )
