"""The public transparency register: ATRS records per service and model cards per model."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from townhall.core import registry
from townhall.core.errors import NotFound
from townhall.core.permissions import PUBLIC
from townhall.core.web import SessionDep, requires, templates
from townhall.governance import transparency

router = APIRouter(
    prefix="/transparency",
    default_response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[requires(PUBLIC)],
)


def _cards(request: Request) -> dict[str, transparency.SystemCard]:
    state = request.app.state
    return transparency.load_cards(state.settings.transparency_dir, state.system_cards)


@router.get("")
def register(request: Request) -> Response:
    cards = _cards(request)
    return templates.TemplateResponse(
        request,
        "transparency/register.html",
        {"title": "Algorithmic transparency records", "cards": list(cards.values())},
    )


@router.get("/models/{name}/{version}")
def model_card(request: Request, session: SessionDep, name: str, version: str) -> Response:
    model = registry.get(session, name, version)
    if model.status == registry.ModelStatus.CANDIDATE.value:
        raise NotFound("This model has not been used on anyone, so it has no public card.")
    return templates.TemplateResponse(
        request,
        "transparency/model_card.html",
        {"title": f"Model card: {name} {version}", "model": model},
    )


@router.get("/{service}.json")
def record_json(request: Request, session: SessionDep, service: str) -> JSONResponse:
    card = transparency.card_for(_cards(request), service)
    return JSONResponse(transparency.record(session, card))


@router.get("/{service}.csv")
def record_csv(request: Request, session: SessionDep, service: str) -> PlainTextResponse:
    card = transparency.card_for(_cards(request), service)
    return PlainTextResponse(
        transparency.to_csv(transparency.record(session, card)),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="atrs-{service}.csv"'},
    )


@router.get("/{service}")
def record_page(request: Request, session: SessionDep, service: str) -> Response:
    card = transparency.card_for(_cards(request), service)
    return templates.TemplateResponse(
        request,
        "transparency/record.html",
        {"title": card.name, "card": card, "record": transparency.record(session, card)},
    )
