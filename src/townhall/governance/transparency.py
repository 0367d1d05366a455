"""System cards rendered as UK Algorithmic Transparency Recording Standard (ATRS) records.

A system card is a YAML file per deployed service, written by the service owner, in the folder
named by the ``transparency_dir`` setting. Records are built on request from the card plus the
model registry's live versions, so a record is always current: when a model version changes, the
next request shows the new one. Tier 1 is the short public summary; Tier 2 the full detail.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError
from sqlalchemy.orm import Session

from townhall.core import registry
from townhall.core.errors import InvalidInput, NotFound

ATRS_VERSION = "3.0"


class CardError(InvalidInput):
    """A system card file cannot be read."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DataSource(_Strict):
    name: str
    description: str
    source: str
    collection: str  # how and on what lawful basis it was collected
    sensitive_attributes: list[str] = []
    retention: str
    sharing: str = "Not shared outside the organisation."


class Risk(_Strict):
    risk: str
    mitigation: str


class ImpactAssessment(_Strict):
    name: str  # e.g. "Data protection impact assessment"
    completed: str  # a date
    summary: str
    link: str | None = None


class SystemCard(_Strict):
    service: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,63}$")
    name: str
    summary: str = Field(max_length=500)  # Tier 1: what it is, in plain words
    organisation: str
    team: str
    senior_responsible_owner: str  # a role, e.g. "Director of Customer Services"
    contact_email: EmailStr
    function: str  # e.g. "Benefits and welfare"
    phase: Literal["pre-deployment", "beta", "production", "retired"]
    website: str | None = None
    purpose: str  # why it is used, the problem it addresses
    benefits: str
    how_it_works: str
    scope: str
    alternatives_considered: str
    human_oversight: str  # how people make the decision, and what they see
    information_for_decision_makers: str
    training_for_staff: str
    frequency_and_scale: str
    appeals_route: str
    external_suppliers: list[str] = []
    models: list[str] = []  # names in the model registry
    data: list[DataSource]
    risks: list[Risk]
    impact_assessments: list[ImpactAssessment]


def load_card(path: Path) -> SystemCard:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CardError(f"{path.name}: cannot be read as YAML ({exc}).") from None
    if not isinstance(raw, dict):
        raise CardError(f"{path.name}: a system card must be a YAML mapping.")
    try:
        return SystemCard.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise CardError(f"{path.name}: {problems}.") from None


def load_cards(folder: Path, shipped: Sequence[Path] = ()) -> dict[str, SystemCard]:
    """Every card in the folder, by service, over the cards the services ship (`shipped`).

    A card in the folder replaces the shipped card of the same service, so a body publishes its
    own owner and assessments without editing the package. A bad file is an error naming it.
    """
    cards = {card.service: card for card in map(load_card, shipped)}
    if not folder.is_dir():
        return cards
    local: set[str] = set()
    for path in sorted(folder.glob("*.y*ml")):
        card = load_card(path)
        if card.service in local:
            raise CardError(f"{path.name}: a card for {card.service!r} was already loaded.")
        local.add(card.service)
        cards[card.service] = card
    return cards


def _model_entries(session: Session, card: SystemCard) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name in card.models:
        model = registry.live(session, name)
        if model is None:
            entries.append({"name": name, "status": "not live: people make these decisions"})
            continue
        model_card = model.model_card or {}
        entries.append(
            {
                "name": name,
                "version": model.version,
                "status": "live",
                "live_since": model.live_since.date().isoformat() if model.live_since else None,
                "purpose": model_card.get("purpose"),
                "training_data": model_card.get("training_data"),
                "limitations": model_card.get("limitations"),
                "performance": model.metrics,
                "fairness_audit": (model.fairness or {}).get("verdict"),
                "model_card": f"/transparency/models/{name}/{model.version}",
            }
        )
    return entries


def tier1(card: SystemCard) -> dict[str, Any]:
    return {
        "atrs_version": ATRS_VERSION,
        "tier": 1,
        "name": card.name,
        "description": card.summary,
        "website": card.website,
        "contact_email": str(card.contact_email),
        "organisation": card.organisation,
        "function": card.function,
        "phase": card.phase,
        "purpose": card.purpose,
        "human_oversight": card.human_oversight,
    }


def tier2(session: Session, card: SystemCard) -> dict[str, Any]:
    return {
        "atrs_version": ATRS_VERSION,
        "tier": 2,
        "owner_and_responsibility": {
            "organisation": card.organisation,
            "team": card.team,
            "senior_responsible_owner": card.senior_responsible_owner,
            "external_suppliers": card.external_suppliers,
        },
        "description_and_rationale": {
            "detailed_description": card.how_it_works,
            "scope": card.scope,
            "benefits": card.benefits,
            "alternatives_considered": card.alternatives_considered,
        },
        "decision_making_process": {
            "process_integration": card.human_oversight,
            "information_provided_to_decision_makers": card.information_for_decision_makers,
            "frequency_and_scale_of_usage": card.frequency_and_scale,
            "required_training": card.training_for_staff,
            "appeals_and_review": card.appeals_route,
        },
        "tool_specification": {"phase": card.phase, "models": _model_entries(session, card)},
        "data": [source.model_dump() for source in card.data],
        "risks": {
            "impact_assessments": [a.model_dump() for a in card.impact_assessments],
            "risks_and_mitigations": [r.model_dump() for r in card.risks],
        },
    }


def record(session: Session, card: SystemCard) -> dict[str, Any]:
    """The full ATRS record for one service: Tier 1 and Tier 2 together."""
    return {"service": card.service, "tier_1": tier1(card), "tier_2": tier2(session, card)}


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, rows)
    elif isinstance(value, list):
        if not value:
            rows.append((prefix, ""))
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, rows)
    else:
        rows.append((prefix, "" if value is None else str(value)))


def to_csv(full_record: dict[str, Any]) -> str:
    """One row per field, as 'field,value', the shape the ATRS CSV template uses."""
    rows: list[tuple[str, str]] = []
    _flatten("", full_record, rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["field", "value"])
    writer.writerows(rows)
    return out.getvalue()


def card_for(cards: dict[str, SystemCard], service: str) -> SystemCard:
    if service not in cards:
        raise NotFound(f"No transparency record for {service!r}.")
    return cards[service]
