"""The routing service's own permission: sending citizens' messages to be routed.

Caseworkers and investigators take messages in; analysts try the router out. Systems that pass
messages on (an email gateway, a web form) use an API token of a user who holds it.
"""

from __future__ import annotations

from townhall.core.permissions import Role

ROUTING_ROUTE = "routing:route"

PERMISSIONS = {ROUTING_ROUTE: frozenset({Role.CASEWORKER, Role.INVESTIGATOR, Role.ANALYST})}
