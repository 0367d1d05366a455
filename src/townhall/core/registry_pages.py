"""Model registry pages: every version with its evidence, and the lifecycle actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from townhall.core import registry
from townhall.core.auth import User
from townhall.core.errors import InvalidInput, NotFound
from townhall.core.permissions import MODELS_MANAGE, MODELS_READ
from townhall.core.web import SessionDep, requires, templates

router = APIRouter(prefix="/models", default_response_class=HTMLResponse, include_in_schema=False)

Reader = Annotated[User, requires(MODELS_READ)]
Manager = Annotated[User, requires(MODELS_MANAGE)]
ACTIONS = ("shadow", "request", "approve", "withdraw")


@router.get("")
def model_list(request: Request, session: SessionDep, _user: Reader) -> Response:
    return templates.TemplateResponse(
        request,
        "models/list.html",
        {"title": "Model registry", "models": registry.versions(session)},
    )


def _model(session: SessionDep, model_id: int) -> registry.RegisteredModel:
    model = session.get(registry.RegisteredModel, model_id)
    if model is None:
        raise NotFound("No such model.")
    return model


def _detail(
    request: Request,
    session: SessionDep,
    user: User,
    model_id: int,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    model = _model(session, model_id)
    return templates.TemplateResponse(
        request,
        "models/detail.html",
        {
            "title": f"{model.name} {model.version}",
            "model": model,
            "blockers": registry.promotion_blockers(model),
            "agreement": registry.agreement(session, model),
            "can_manage": user.can(MODELS_MANAGE),
            "errors": errors or {},
            "error_title": bool(errors),
        },
        status_code=status,
    )


@router.get("/{model_id}")
def model_detail(request: Request, session: SessionDep, user: Reader, model_id: int) -> Response:
    return _detail(request, session, user, model_id)


@router.post("/{model_id}/{action}")
def model_action(
    request: Request,
    session: SessionDep,
    user: Manager,
    model_id: int,
    action: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    model = _model(session, model_id)
    try:
        if action == "shadow":
            registry.start_shadow(session, model, by=user)
        elif action == "request":
            registry.request_promotion(session, model, by=user)
        elif action == "approve":
            registry.approve_promotion(session, model, by=user)
        elif action == "withdraw":
            registry.withdraw(session, model, by=user, reason=reason)
        else:
            raise NotFound("No such action.")
    except InvalidInput as exc:
        field = "reason" if action == "withdraw" else "action"
        return _detail(request, session, user, model_id, errors={field: exc.message}, status=422)
    return RedirectResponse(f"/models/{model_id}", status_code=303)
