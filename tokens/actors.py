"""Who did something: the actor every service takes and every audit event records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest

from core.net import client_ip

if TYPE_CHECKING:
    from accounts.models import Organization, User
    from tokens.models import PersonalAccessToken

# Mirrors AuditEvent.ActorKind (kept as strings so this module needs no model import).
USER, TOKEN, OPS, SYSTEM, CLI, ANONYMOUS = "user", "token", "ops", "system", "cli", "anonymous"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    user: User | None = None
    token: PersonalAccessToken | None = None
    label: str = ""
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def for_user(cls, user: User, *, ip: str | None = None, user_agent: str = "") -> Actor:
        return cls(USER, user=user, label=user.email, ip=ip, user_agent=user_agent[:300])

    @classmethod
    def for_ops(cls, user: User, *, ip: str | None = None, user_agent: str = "") -> Actor:
        return cls(OPS, user=user, label=user.email, ip=ip, user_agent=user_agent[:300])

    @classmethod
    def for_token(
        cls, token: PersonalAccessToken, *, ip: str | None = None, user_agent: str = ""
    ) -> Actor:
        label = f"token {token.display_prefix}…"
        return cls(TOKEN, token=token, label=label, ip=ip, user_agent=user_agent[:300])

    @classmethod
    def system(cls, label: str = "Quaygate") -> Actor:
        return cls(SYSTEM, label=label)

    @classmethod
    def cli(cls, label: str = "manage.py") -> Actor:
        return cls(CLI, label=label)

    @classmethod
    def anonymous(cls, *, ip: str | None = None, user_agent: str = "") -> Actor:
        return cls(ANONYMOUS, label="anonymous", ip=ip, user_agent=user_agent[:300])

    @classmethod
    def from_request(cls, request: HttpRequest, *, ops: bool = False) -> Actor:
        """The signed-in person behind a portal or admin request, with their address."""
        ip, agent = client_ip(request), request.META.get("HTTP_USER_AGENT", "")
        if ops:
            return cls.for_ops(request.user, ip=ip, user_agent=agent)
        return cls.for_user(request.user, ip=ip, user_agent=agent)

    @property
    def is_person(self) -> bool:
        return self.kind in (USER, OPS)

    def administers(self, organization: Organization) -> bool:
        """May act as an admin of `organization`: ops, the system and the command line always,
        a person when they are one of its admins."""
        from accounts.models import Membership  # this module stays free of model imports

        if self.kind in (OPS, SYSTEM, CLI):
            return True
        return (
            self.kind == USER
            and self.user is not None
            and Membership.objects.is_admin(user=self.user, organization=organization)
        )
