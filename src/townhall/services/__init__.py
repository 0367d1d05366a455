"""Every service, in one tuple. ``townhall.app`` and ``townhall.cli`` walk it; a new service is one
line here. Each entry is the ``SERVICE`` a package under this folder exports."""

from __future__ import annotations

from townhall.core.service import Service
from townhall.services import assistant, casework, routing

SERVICES: tuple[Service, ...] = (assistant.SERVICE, routing.SERVICE, casework.SERVICE)
