"""Which team should take a question a service cannot deal with itself.

Services never import each other, so the one that hands work to people (the assistant) asks
here, and a service that knows how to place a message with a team (routing) registers a
resolver here. Resolvers are asked in the order they were registered; the first answer wins.
With none, or none sure, the caller keeps its own fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

log = logging.getLogger("townhall.handoff")

# (session, redacted text) -> (team slug, why that team, in words a reviewer reads) or None.
TeamResolver = Callable[[Session, str], tuple[str, str] | None]

_resolvers: list[TeamResolver] = []


def register_team_resolver(resolver: TeamResolver) -> TeamResolver:
    """Add a resolver once (registering it again changes nothing); returns it, so it can be
    used as a decorator."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)
    return resolver


def unregister_team_resolver(resolver: TeamResolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def team_resolvers() -> tuple[TeamResolver, ...]:
    return tuple(_resolvers)


def resolve_team(session: Session, text: str) -> tuple[str, str] | None:
    """The first registered resolver's (team slug, evidence) for `text`, or None."""
    for resolver in tuple(_resolvers):
        try:
            found = resolver(session, text)
        except Exception:
            # A broken model must not lose a citizen's hand-off: the caller's fallback takes it.
            log.exception("team resolver %r failed; trying the next", resolver)
            continue
        if found is not None and found[0]:
            return found
    return None
