"""Scopes a token can hold. A write scope implies read of the same resource."""

from enum import StrEnum


class Scope(StrEnum):
    FLEET_READ = "fleet:read"
    TELEMETRY_READ = "telemetry:read"
    ALARMS_READ = "alarms:read"
    ALARMS_WRITE = "alarms:write"
    MAINTENANCE_READ = "maintenance:read"
    MAINTENANCE_WRITE = "maintenance:write"
    AUDIT_READ = "audit:read"


ALL_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
# The scopes that change data. One place says which they are (approval policy, metrics, forms).
WRITE_SCOPES: frozenset[str] = frozenset(
    scope.value for scope in Scope if scope.value.endswith(":write")
)


def is_write_scope(scope: str) -> bool:
    return scope in WRITE_SCOPES


def has_write_scope(scopes) -> bool:
    """Whether any of `scopes` changes data (a write scope), as the approval policy asks."""
    return any(scope in WRITE_SCOPES for scope in scopes)


def all_scopes() -> list[str]:
    return list(ALL_SCOPES)


DESCRIPTIONS: dict[str, str] = {
    Scope.FLEET_READ: "List terminals and spreaders",
    Scope.TELEMETRY_READ: "Read spreader telemetry",
    Scope.ALARMS_READ: "List alarms",
    Scope.ALARMS_WRITE: "Acknowledge alarms (includes read)",
    Scope.MAINTENANCE_READ: "List maintenance records",
    Scope.MAINTENANCE_WRITE: "Log maintenance (includes read)",
    Scope.AUDIT_READ: "Read the organisation's audit log (organisation admins only)",
}

# Scopes only an organisation admin may put on a token, whatever the policy's member_scopes
# say; the API also refuses them when the token does not speak for an admin any more
# (tokens.selectors.speaks_for_an_admin).
ADMIN_ONLY_SCOPES: frozenset[str] = frozenset({Scope.AUDIT_READ})
MEMBER_SCOPES: tuple[str, ...] = tuple(s for s in ALL_SCOPES if s not in ADMIN_ONLY_SCOPES)


def member_scopes() -> list[str]:
    """A new policy's default: members may grant every scope a member can hold."""
    return list(MEMBER_SCOPES)


# Resource -> (read scope, write scope or None), in the order the portal shows them.
RESOURCES: dict[str, tuple[str, str | None]] = {
    "fleet": (Scope.FLEET_READ, None),
    "telemetry": (Scope.TELEMETRY_READ, None),
    "alarms": (Scope.ALARMS_READ, Scope.ALARMS_WRITE),
    "maintenance": (Scope.MAINTENANCE_READ, Scope.MAINTENANCE_WRITE),
    "audit log": (Scope.AUDIT_READ, None),
}


def normalize(scopes: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """Sorted, de-duplicated, validated. Raises ValueError naming any unknown scope."""
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}")
    return sorted(set(scopes), key=ALL_SCOPES.index)


def effective(scopes: list[str] | tuple[str, ...] | set[str]) -> frozenset[str]:
    """What the token may do: its scopes plus the read scope each write scope implies."""
    granted = set(scopes)
    for read, write in RESOURCES.values():
        if write and write in granted:
            granted.add(read)
    return frozenset(granted)


def grants(scopes: list[str] | tuple[str, ...] | set[str] | frozenset[str], needed: str) -> bool:
    return needed in effective(scopes)


def grantable(member_scopes: list[str] | tuple[str, ...], *, admin: bool) -> list[str]:
    """The scopes someone may put on a token under their organisation's policy: an
    organisation admin every scope, a member only the policy's `member_scopes`. Shared by the
    issue service, which enforces it, and the portal form, which greys out the rest."""
    if admin:
        return list(ALL_SCOPES)
    allowed = set(member_scopes) - ADMIN_ONLY_SCOPES
    return [scope for scope in ALL_SCOPES if scope in allowed]
