"""Roles and the permissions each one holds.

Every route declares one permission (see ``townhall.core.web.requires``). Services add their own
permissions through ``Service.permissions``; the role grants for those live with the service.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PUBLIC = "public"
    CASEWORKER = "caseworker"
    INVESTIGATOR = "investigator"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    ADMIN = "admin"


# Anyone, signed in or not.
PUBLIC = "public"
# Any signed-in member of staff.
STAFF = "staff"
DECISIONS_READ = "decisions:read"
DECISIONS_REVIEW = "decisions:review"
AUDIT_READ = "audit:read"
USERS_MANAGE = "users:manage"
METRICS_READ = "metrics:read"
TOKENS_OWN = "tokens:own"
MODELS_READ = "models:read"
MODELS_MANAGE = "models:manage"
# Subject access and erasure: the data protection officer's work, done under the auditor role.
DATA_RIGHTS = "data_rights:manage"
FAIRNESS_READ = "fairness:read"
PRIVACY_SCAN = "privacy:scan"

CORE_PERMISSIONS: frozenset[str] = frozenset(
    {
        PUBLIC,
        STAFF,
        DECISIONS_READ,
        DECISIONS_REVIEW,
        AUDIT_READ,
        USERS_MANAGE,
        METRICS_READ,
        TOKENS_OWN,
        MODELS_READ,
        MODELS_MANAGE,
        DATA_RIGHTS,
        FAIRNESS_READ,
        PRIVACY_SCAN,
    }
)

_STAFF_BASE = {PUBLIC, STAFF, TOKENS_OWN}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.PUBLIC: frozenset({PUBLIC}),
    Role.CASEWORKER: frozenset(_STAFF_BASE | {DECISIONS_READ, DECISIONS_REVIEW}),
    Role.INVESTIGATOR: frozenset(_STAFF_BASE | {DECISIONS_READ, DECISIONS_REVIEW}),
    # The data team registers models and asks for promotion; a second person approves.
    Role.ANALYST: frozenset(
        _STAFF_BASE
        | {DECISIONS_READ, METRICS_READ, MODELS_READ, MODELS_MANAGE, FAIRNESS_READ, PRIVACY_SCAN}
    ),
    # Auditors see everything that was decided and logged; they change nothing but, as data
    # protection officers, answer subject access and erasure requests.
    Role.AUDITOR: frozenset(
        _STAFF_BASE
        | {
            DECISIONS_READ,
            AUDIT_READ,
            METRICS_READ,
            MODELS_READ,
            DATA_RIGHTS,
            FAIRNESS_READ,
            PRIVACY_SCAN,
        }
    ),
    Role.ADMIN: frozenset(CORE_PERMISSIONS),
}


_SERVICE_GRANTS: dict[str, frozenset[Role]] = {}


def grant(permission: str, roles: frozenset[Role] | set[Role]) -> None:
    """Grant a service's permission to roles; admin always holds every permission."""
    _SERVICE_GRANTS[permission] = frozenset(roles) | {Role.ADMIN}


def role_has(role: Role | str, permission: str) -> bool:
    role = Role(role)
    if permission in ROLE_PERMISSIONS[role]:
        return True
    return role in _SERVICE_GRANTS.get(permission, frozenset())


def known_permissions() -> frozenset[str]:
    return CORE_PERMISSIONS | frozenset(_SERVICE_GRANTS)
