"""The shape of a service: what a package under ``townhall.services`` exports as ``SERVICE``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from fastapi import APIRouter
from sqlalchemy.orm import Session

from townhall.core.jobs import Job
from townhall.core.permissions import Role


@dataclass(frozen=True)
class Service:
    name: str  # short machine name, e.g. "assistant"
    title: str  # what staff see on the home page
    description: str
    home_url: str | None = None  # the service's first staff page
    home_permission: str = "staff"
    router: APIRouter | None = None  # JSON API, mounted under /api/v1
    pages: APIRouter | None = None  # HTML pages
    cli: typer.Typer | None = None  # `townhall <name> ...`
    # permission -> roles granted it (admin always holds every permission)
    permissions: dict[str, frozenset[Role]] = field(default_factory=dict)
    decision_types: tuple[str, ...] = ()
    jobs: tuple[Job, ...] = ()  # background and scheduled work (townhall.core.jobs)
    # Loads the service's part of the fictional demo council, idempotently: (session, settings)
    # -> a one-line summary for the terminal. `townhall demo` and the browser tests call it.
    demo: Callable[[Session, Any], str] | None = None
    # Its ATRS system card (YAML, townhall.governance.transparency), shown on the public register;
    # a card for the same service in the `transparency_dir` folder replaces it.
    system_card: Path | None = None
