"""The event types a webhook endpoint can subscribe to, and which audit actions they carry.

Pure: no database. `audit.*` is every event (each audit-log line, the expiry warnings and the
findings); `member.*` every membership change. An audit action outside the named types is sent
with its own name as the type (`policy.changed`, `auth.failed`), to `audit.*` subscribers only.
"""

from __future__ import annotations

ALL = "audit.*"
MEMBERS = "member.*"
TEST = "webhook.test"

# (type, what it means) in the order the portal offers them.
EVENT_TYPES: list[tuple[str, str]] = [
    ("token.created", "A token was created (or a token request approved)"),
    ("token.regenerated", "A token's secret was regenerated or rotated"),
    ("token.revoked", "A token was revoked"),
    ("token.expiring", "A token expires in 30, 7 or 1 days"),
    ("token.expired", "A token expired"),
    ("token.leaked", "A token was reported leaked or sent in a URL"),
    ("anomaly.detected", "A finding was raised on the organisation's API usage"),
    (MEMBERS, "Members invited, joined, changed role, removed or left"),
    (ALL, "Every event, including every line of the audit log"),
]
NAMES = frozenset(name for name, _ in EVENT_TYPES)

# Audit action -> webhook type, where they differ or are grouped.
_FROM_AUDIT = {
    "token.created": "token.created",
    "token.regenerated": "token.regenerated",
    "token.rotated": "token.regenerated",
    "token.revoked": "token.revoked",
    "token.expired": "token.expired",
    "token.leak_reported": "token.leaked",
    "token.in_url": "token.leaked",
    "anomaly.found": "anomaly.detected",
}


def type_for_audit_action(action: str) -> str:
    return _FROM_AUDIT.get(action, action)


def subscribed(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `event_types` gets an event of `event_type`."""
    if event_type == TEST or ALL in event_types or event_type in event_types:
        return True
    return MEMBERS in event_types and event_type.startswith("member.")
