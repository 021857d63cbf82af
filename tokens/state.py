"""What a request knows about its token: the state cached in Redis and kept in process memory.

No secret and no hash: the keys it is stored under are the token's keyed hash (tokens.cache).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tokens import scopes as scope_rules
from tokens.allowlist import ip_allowed


@dataclass(frozen=True, slots=True)
class TokenState:
    """What a request needs to know about its token. No secret, no hash."""

    id: int
    owner_id: int
    organization_id: int
    name: str
    display_prefix: str
    scopes: tuple[str, ...]
    terminal_ids: frozenset[int] | None  # None: every terminal of the organisation
    allowed_ips: tuple[str, ...]
    expires_at: float | None  # epoch seconds
    rate_limit_per_hour: int
    # Set when the presented secret was rotated out but is still inside its overlap window.
    secret_valid_until: float | None = None
    # For GET /api/v1/token without a query. last_used_at is as of the load: at most a
    # minute or two behind (it is itself written at most once a minute).
    organization_name: str = ""
    terminal_codes: tuple[str, ...] = ()
    created_at: float | None = None
    regenerated_at: float | None = None
    last_used_at: float | None = None
    # Issue 17: waiting for an admin's approval; the API refuses it with 403 until then.
    pending: bool = False
    # Issue 15: the token's kind and its organisation's API access level, so the entitlement
    # check costs no query and no round trip. set_api_access forgets the org's states.
    kind: str = "production"
    org_access: str = "production"
    # Where the 403 for a level that does not cover the token points (the org's portal page).
    org_slug: str = ""
    # Issue 16: the organisation requires 2FA and the owner has none; from this epoch second
    # the token is refused (owner_without_2fa). A clock check: the deadline needs no message.
    two_factor_deadline: float | None = None
    # Issue 17: who the token belongs to, for GET /api/v1/token: a service account's name
    # ("" for a personal token) and the owner's email (the creator, for a service token).
    service_account_name: str = ""
    owner_email: str = ""
    # What requests derive from the state (response headers, the token's own payload), worked
    # out once per process: a cached state is decoded once and then serves many requests.
    memo: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @property
    def effective_scopes(self) -> frozenset[str]:
        return scope_rules.effective(self.scopes)

    @property
    def owner(self) -> dict[str, str]:
        """Who the token belongs to, as GET /api/v1/token says it."""
        if self.service_account_name:
            return {"type": "service_account", "name": self.service_account_name}
        return {"type": "user", "email": self.owner_email}

    def has_scope(self, needed: str) -> bool:
        return needed in self.effective_scopes

    def allows_ip(self, ip: str | None) -> bool:
        return ip_allowed(self.allowed_ips, ip)

    def sees_terminal(self, terminal_id: int) -> bool:
        return self.terminal_ids is None or terminal_id in self.terminal_ids

    def dead_reason(self, now: float) -> str | None:
        """Why the token (or this secret of it) is refused at `now`, or None."""
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.secret_valid_until is not None and self.secret_valid_until <= now:
            return "rotated"
        if self.two_factor_deadline is not None and self.two_factor_deadline <= now:
            return "owner_without_2fa"
        return None

    def to_json(self) -> str:
        data = {
            "id": self.id,
            "o": self.owner_id,
            "g": self.organization_id,
            "n": self.name,
            "p": self.display_prefix,
            "s": list(self.scopes),
            "t": None if self.terminal_ids is None else sorted(self.terminal_ids),
            "ip": list(self.allowed_ips),
            "x": self.expires_at,
            "r": self.rate_limit_per_hour,
            "v": self.secret_valid_until,
            "on": self.organization_name,
            "tc": list(self.terminal_codes),
            "c": self.created_at,
            "rg": self.regenerated_at,
            "lu": self.last_used_at,
            "pa": self.pending,
            "k": self.kind,
            "ga": self.org_access,
            "gs": self.org_slug,
            "2f": self.two_factor_deadline,
            "sa": self.service_account_name,
            "oe": self.owner_email,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> TokenState:
        data = json.loads(raw)
        return cls(
            id=data["id"],
            owner_id=data["o"],
            organization_id=data["g"],
            name=data["n"],
            display_prefix=data["p"],
            scopes=tuple(data["s"]),
            terminal_ids=None if data["t"] is None else frozenset(data["t"]),
            allowed_ips=tuple(data["ip"]),
            expires_at=data["x"],
            rate_limit_per_hour=data["r"],
            secret_valid_until=data["v"],
            organization_name=data.get("on", ""),
            terminal_codes=tuple(data.get("tc", ())),
            created_at=data.get("c"),
            regenerated_at=data.get("rg"),
            last_used_at=data.get("lu"),
            pending=bool(data.get("pa", False)),
            kind=data.get("k", "production"),
            org_access=data.get("ga", "production"),
            org_slug=data.get("gs", ""),
            two_factor_deadline=data.get("2f"),
            service_account_name=data.get("sa", ""),
            owner_email=data.get("oe", ""),
        )
