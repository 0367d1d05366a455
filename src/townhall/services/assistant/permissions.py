"""The assistant's own permission: running the knowledge base and reading its content gaps."""

from __future__ import annotations

from townhall.core.permissions import Role

ASSISTANT_MANAGE = "assistant:manage"

PERMISSIONS = {ASSISTANT_MANAGE: frozenset({Role.ANALYST})}
