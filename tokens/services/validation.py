"""What a token's settings may be: each `clean_*` returns the value to store or raises the
TokenError (with the field it is about) that the portal and the API show as they are."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Terminal
from tokens import scopes as scope_rules
from tokens.exceptions import InvalidInput, PolicyViolation
from tokens.models import PersonalAccessToken, ServiceAccount, TokenPolicy

MAX_ALLOWED_IPS = 50
MAX_RATE_LIMIT = 1_000_000
MAX_LIFETIME_DAYS = 3650
# A form that offers "90 days" computes the date a moment before the service checks it.
_EXPIRY_SLACK = timedelta(minutes=5)


def clean_name(
    name: str,
    *,
    owner: User,
    exclude_id: int | None = None,
    service_account: ServiceAccount | None = None,
) -> str:
    """A personal token's name is unique among its owner's live personal tokens; a service
    token's among its service account's live tokens."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Give the token a name.", code="name_required", field="name")
    if len(name) > 100:
        raise InvalidInput(
            "Keep the name under 100 characters.", code="name_too_long", field="name"
        )
    if not name.isprintable():
        raise InvalidInput(
            "The name has characters that cannot be shown.", code="invalid_name", field="name"
        )
    live = PersonalAccessToken.objects.filter(name=name, revoked_at__isnull=True)
    if service_account is not None:
        taken, whose = live.filter(service_account=service_account), service_account.name
    else:
        taken, whose = live.personal().filter(owner=owner), ""
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        who = f"{whose} already has" if whose else "You already have"
        raise InvalidInput(
            f"{who} a token called “{name}”. Pick another name, or revoke the old one.",
            code="name_taken",
            field="name",
        )
    return name


def clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 1000:
        raise InvalidInput(
            "Keep the description under 1,000 characters.",
            code="description_too_long",
            field="description",
        )
    return description


def clean_scopes(scopes: Iterable[str], *, policy: TokenPolicy, role: str) -> list[str]:
    try:
        cleaned = scope_rules.normalize(list(scopes or ()))
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_scope", field="scopes") from None
    if not cleaned:
        raise InvalidInput("Choose at least one scope.", code="scope_required", field="scopes")
    allowed = scope_rules.grantable(policy.member_scopes, admin=role == Membership.Role.ADMIN)
    refused = [scope for scope in cleaned if scope not in allowed]
    if refused:
        raise PolicyViolation(
            f"Your organisation lets members grant only: {', '.join(allowed) or 'nothing'}. "
            f"Ask an organisation admin for {', '.join(refused)}.",
            code="scope_not_allowed",
            field="scopes",
        )
    return cleaned


def clean_ips(allowed_ips: Iterable[str], *, policy: TokenPolicy) -> list[str]:
    cleaned: list[str] = []
    for entry in allowed_ips or ():
        text = str(entry).strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidInput(
                f"“{text[:60]}” is not an IP address or CIDR range (like 203.0.113.0/24 or 2001:db8::/48).",
                code="invalid_ip",
                field="allowed_ips",
            ) from None
        if str(network) not in cleaned:
            cleaned.append(str(network))
    if len(cleaned) > MAX_ALLOWED_IPS:
        raise InvalidInput(
            f"An allow-list holds at most {MAX_ALLOWED_IPS} ranges.",
            code="too_many_ips",
            field="allowed_ips",
        )
    if policy.require_ip_allowlist and not cleaned:
        raise PolicyViolation(
            "Your organisation requires an IP allow-list on every token.",
            code="ip_allowlist_required",
            field="allowed_ips",
        )
    return cleaned


def clean_terminals(
    terminal_access: str, terminals: Iterable[Terminal | int], *, organization: Organization
) -> list[Terminal]:
    if terminal_access not in PersonalAccessToken.TerminalAccess.values:
        raise InvalidInput(
            "Terminal access is either “all” or “selected”.",
            code="invalid_terminal_access",
            field="terminal_access",
        )
    ids = {t.pk if isinstance(t, Terminal) else int(t) for t in terminals or ()}
    if terminal_access == PersonalAccessToken.TerminalAccess.ALL:
        return []
    found = list(Terminal.objects.for_org(organization).filter(pk__in=ids))
    if not ids:
        raise InvalidInput(
            "Select at least one terminal, or give access to all of them.",
            code="terminal_required",
            field="terminals",
        )
    if len(found) != len(ids):
        raise InvalidInput(
            "Only your organisation's terminals can be selected.",
            code="invalid_terminal",
            field="terminals",
        )
    return found


def clean_expiry(
    expires_at: datetime | None, *, policy: TokenPolicy, now: datetime
) -> datetime | None:
    if expires_at is None:
        if not policy.allow_no_expiry:
            raise PolicyViolation(
                f"Tokens in your organisation must expire, within {policy.max_lifetime_days} days.",
                code="no_expiry_not_allowed",
                field="expires_at",
            )
        return None
    if timezone.is_naive(expires_at):
        raise InvalidInput(
            "The expiry needs a time zone.", code="invalid_expiry", field="expires_at"
        )
    if expires_at <= now:
        raise InvalidInput(
            "The expiry must be in the future.", code="invalid_expiry", field="expires_at"
        )
    if expires_at > now + policy.max_lifetime + _EXPIRY_SLACK:
        raise PolicyViolation(
            f"Tokens in your organisation expire within {policy.max_lifetime_days} days.",
            code="policy_max_lifetime",
            field="expires_at",
        )
    return expires_at


def clean_rate_limit(rate_limit: int | None, *, policy: TokenPolicy, role: str) -> int | None:
    if rate_limit in (None, ""):
        return None
    try:
        rate_limit = int(rate_limit)
    except (TypeError, ValueError):
        raise InvalidInput(
            "The rate limit is a whole number of requests per hour.",
            code="invalid_rate_limit",
            field="rate_limit_per_hour",
        ) from None
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise InvalidInput(
            f"The rate limit is between 1 and {MAX_RATE_LIMIT:,} requests per hour.",
            code="invalid_rate_limit",
            field="rate_limit_per_hour",
        )
    if role != Membership.Role.ADMIN and rate_limit > policy.default_rate_limit_per_hour:
        raise PolicyViolation(
            f"Members can set a rate limit up to the organisation's "
            f"{policy.default_rate_limit_per_hour:,} requests per hour; an admin can raise it.",
            code="rate_limit_not_allowed",
            field="rate_limit_per_hour",
        )
    return rate_limit
