"""DRF authentication for the partner API: `Authorization: Bearer qgp_…`.

The order is the cost order. A token in the URL is refused before anything else. A malformed
token or a bad checksum is refused with no query and no cache call. A well-formed one this
process has seen costs no round trip at all (tokens.cache: its state in memory, kept true by
Redis's pushes; its rate limit counted against a lease); otherwise one Redis round trip and,
only when its state is not cached there either, one indexed query by keyed hash.

Every refusal answers the same 401 (`error="invalid_token"`): the caller never learns whether
the token was unknown, revoked, expired, rotated out or used from the wrong address. The audit
log and the usage log know (`request.qg_auth_failure`).
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError
from django.db.models import CharField, OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Cast
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import Membership, api_access_allows
from core.net import client_ip
from tokens import cache as token_cache
from tokens import format as token_format
from tokens import services
from tokens.models import PersonalAccessToken, TokenPolicy, TokenSecret
from tokens.state import TokenState

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="quaygate"'
INVALID_TOKEN_HEADER = f'{REALM}, error="invalid_token"'
# Query parameters people (and some tools) put tokens in. Any of them gets a 400.
QUERY_TOKEN_PARAMS = frozenset({"access_token", "token", "api_key", "apikey", "key"})


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = (
        "The token is not valid: it may be mistyped, unknown, expired or revoked, or not "
        "allowed from this address."
    )
    default_code = "invalid_token"


class TokenInQueryString(exceptions.APIException):
    status_code = 400
    default_detail = (
        "Tokens are not accepted in the URL. Send it in the Authorization header instead: "
        "'Authorization: Bearer qgp_…'. A URL ends up in server logs, proxies and browser "
        "history, so if this was a real token, regenerate it now."
    )
    default_code = "token_in_url"


class TokenPendingApproval(exceptions.PermissionDenied):
    default_detail = (
        "This token is waiting for an organisation admin's approval. It works once approved."
    )
    default_code = "token_pending_approval"


class ApiAccessNotEnabled(exceptions.PermissionDenied):
    default_detail = (
        "Your organisation's API access does not cover this token. Sandbox tokens (qgs_) need "
        "sandbox access; production tokens (qgp_) need production access. An organisation "
        "admin can ask for production access in the portal: Organisation → API access → "
        "Request production access ({url}). Until it is granted, use a sandbox token (qgs_)."
    )
    default_code = "api_access_not_enabled"

    def __init__(self, state: TokenState | None = None) -> None:
        url = f"{settings.SITE_URL}/orgs/"
        if state is not None and state.org_slug:
            url = f"{settings.SITE_URL}/orgs/{state.org_slug}/api-access/"
        super().__init__(detail=self.default_detail.format(url=url))


class RateLimited(exceptions.Throttled):
    default_code = "rate_limited"
    extra_detail_singular = extra_detail_plural = "Try again in {wait} seconds."


class AddressRefused(exceptions.Throttled):
    """Too many failed authentications from this address: even a valid token waits."""

    default_code = "too_many_requests"
    default_detail = "Too many failed authentications from this address."
    extra_detail_singular = extra_detail_plural = "Try again in {wait} seconds."


class TokenUser:
    """request.user for a token request: the owner's id, without loading the owner."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, owner_id: int) -> None:
        self.id = self.pk = owner_id

    def __str__(self) -> str:
        return f"token owner {self.id}"


def _django_request(request: Request | HttpRequest) -> HttpRequest:
    return getattr(request, "_request", request)


def _bearer(header: str) -> str | None:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


class PersonalAccessTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TokenUser, TokenState] | None:
        django_request = _django_request(request)
        self._refuse_token_in_url(django_request)
        header = django_request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        candidate = _bearer(header)
        parsed = token_format.parse(candidate)
        if parsed is None:
            # Garbage costs nothing: no query, no cache call; the usage log still sees it.
            self._fail(django_request, _unparsed_reason(candidate))
        secret_hash = services.hash_secret(parsed.token)
        now = time.time()
        ip = client_ip(django_request)
        found = token_cache.lookup(secret_hash, ip=ip, now=now)
        if found.blocked_until is not None:
            # Its next guess is not even checked, so guessing from one address stays slow.
            django_request.qg_auth_failure = {
                "reason": "address_blocked",
                "token_prefix": parsed.display_prefix,
            }
            raise AddressRefused(wait=max(1, int(found.blocked_until - now)))
        state = found.state
        if state is None:
            state = self._load(django_request, secret_hash, parsed)
            token_cache.remember(secret_hash, state, now=now, since=found.since)
        reason = state.dead_reason(now)
        if reason is None and not state.allows_ip(ip):
            reason = "ip_not_allowed"
        if reason is not None:
            self._fail(django_request, reason, state=state, prefix=parsed.display_prefix)
        if state.pending:
            raise TokenPendingApproval()
        if not api_access_allows(state.org_access, state.kind):
            raise ApiAccessNotEnabled(state)
        django_request.qg_token = state
        limit = state.rate_limit_per_hour
        number, reset = token_cache.count(secret_hash, limit=limit, now=now)
        django_request.qg_rate = (limit, max(0, limit - number), reset)
        if number > limit:
            raise RateLimited(wait=max(1, reset - int(now)))
        if token_cache.touch_due(secret_hash, now):
            _touch(state.id, ip)
        return TokenUser(state.owner_id), state

    def authenticate_header(self, request: Request) -> str:
        failed = getattr(_django_request(request), "qg_auth_failure", None)
        return INVALID_TOKEN_HEADER if failed else REALM

    # --- steps --------------------------------------------------------------------------------

    def _refuse_token_in_url(self, request: HttpRequest) -> None:
        for key, values in request.GET.lists():
            if key.lower() not in QUERY_TOKEN_PARAMS:
                continue
            request.qg_auth_failure = {"reason": "token_in_url"}
            for value in values:
                parsed = token_format.parse(value.strip())
                if parsed is not None:
                    request.qg_auth_failure["token_prefix"] = parsed.display_prefix
                    services.record_token_in_url(
                        parsed.token,
                        ip=client_ip(request),
                        user_agent=request.META.get("HTTP_USER_AGENT", ""),
                        path=request.path,
                    )
            raise TokenInQueryString()

    def _load(self, request: HttpRequest, secret_hash: str, parsed) -> TokenState:
        """One query: the secret, its token, the policy's rate limit and the terminal ids."""
        # The hash is unique: no ORDER BY (`.first()` would add one).
        row = next(iter(_secret_rows().filter(secret_hash=secret_hash)[:1]), None)
        if row is None or not hmac.compare_digest(row.secret_hash, secret_hash):
            self._fail(request, "unknown", prefix=parsed.display_prefix)
        token: PersonalAccessToken = row.token
        state = _state_of(row)
        if token.revoked_at is not None:
            self._fail(request, "revoked", state=state, prefix=parsed.display_prefix)
        return state

    def _fail(
        self,
        request: HttpRequest,
        reason: str,
        *,
        state: TokenState | None = None,
        prefix: str = "",
    ):
        request.qg_auth_failure = {
            "reason": reason,
            "token_id": state.id if state else None,
            "organization_id": state.organization_id if state else None,
            "token_prefix": prefix,
        }
        if reason not in _FREE_REASONS:
            if reason not in _NOT_GUESSES:
                _count_failure(request)
            try:
                services.record_auth_failure(
                    reason=reason,
                    ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    token_id=state.id if state else None,
                    organization_id=state.organization_id if state else None,
                    token_prefix=prefix,
                )
            except DatabaseError:
                logger.exception("Could not record an authentication failure")
        raise InvalidToken()


# Refused offline (no lookup): such a guess can never succeed, so it costs the address nothing.
_FREE_REASONS = frozenset({"malformed", "bad_checksum"})
# Refused for who owns it, not for what was sent: audited, but not counted against the address
# (an integration that keeps calling must not get its whole office's other tokens blocked).
_NOT_GUESSES = frozenset({"owner_without_2fa"})


def _unparsed_reason(candidate: str | None) -> str:
    """Why the parser refused it: a token's shape with a wrong checksum (mistyped or made
    up), or not a token at all. Only on the refusal path."""
    shaped = candidate is not None and token_format.FAMILY_PATTERN.fullmatch(candidate) is not None
    return "bad_checksum" if shaped else "malformed"


def _address(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _count_failure(request: HttpRequest) -> None:
    """Count a failed guess against the address (django-ratelimit); at the limit, block the
    address in the token cache, which every request reads in the round trip it makes anyway.
    Garbage (malformed tokens) is not counted: it can never succeed, and costs nothing."""
    from django.conf import settings

    rate = settings.QUAYGATE.get("API_AUTH_FAILURES_PER_IP", "30/m")
    try:
        usage = get_usage(
            request, group="api:auth-failures", key=_address, rate=rate, increment=True
        )
    except Exception:  # the cache's own errors: fail open, the token limits still hold
        logger.warning(
            "Per-address limit api:auth-failures unavailable: cache error", exc_info=True
        )
        return
    if usage is not None and usage["count"] >= usage["limit"]:
        token_cache.block_address(
            client_ip(request), until=time.time() + max(1, usage["time_left"])
        )


def _secret_rows():
    through = PersonalAccessToken.terminals.through
    terminal_ids = (
        through.objects.filter(personalaccesstoken_id=OuterRef("token_id"))
        .values("personalaccesstoken_id")
        .annotate(ids=StringAgg(Cast("terminal_id", CharField()), delimiter=Value(",")))
        .values("ids")
    )
    terminal_codes = (
        through.objects.filter(personalaccesstoken_id=OuterRef("token_id"))
        .values("personalaccesstoken_id")
        .annotate(codes=StringAgg("terminal__code", delimiter=Value("\n")))
        .values("codes")
    )
    policy_rate = TokenPolicy.objects.filter(
        organization_id=OuterRef("token__organization_id")
    ).values("default_rate_limit_per_hour")[:1]
    two_factor_deadline = Membership.objects.filter(
        user_id=OuterRef("token__owner_id"), organization_id=OuterRef("token__organization_id")
    ).values("two_factor_deadline")[:1]
    # The owner and the service account ride along in the one lookup (issue 17: "owner").
    return TokenSecret.objects.select_related(
        "token__organization", "token__owner", "token__service_account"
    ).annotate(
        terminal_ids=Subquery(terminal_ids),
        terminal_codes=Subquery(terminal_codes),
        policy_rate=Subquery(policy_rate),
        two_factor_deadline=Subquery(two_factor_deadline),
    )


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _state_of(row: TokenSecret) -> TokenState:
    token = row.token
    terminal_ids, terminal_codes = None, ()
    if token.terminal_access == PersonalAccessToken.TerminalAccess.SELECTED:
        terminal_ids = frozenset(int(i) for i in (row.terminal_ids or "").split(",") if i)
        terminal_codes = tuple(sorted(c for c in (row.terminal_codes or "").split("\n") if c))
    valid_until = None
    if row.retired_at is not None:
        # Rotated out: accepted until the end of its overlap, or never (ended when retired).
        valid_until = _epoch(row.valid_until or row.retired_at)
    # The plan's ceiling caps whatever the token or its policy says; the organisation row is
    # already joined, so the cap costs no query, and it travels in the cached state.
    rate = min(
        token.effective_rate_limit(row.policy_rate), token.organization.rate_ceiling(token.kind)
    )
    return TokenState(
        id=token.id,
        owner_id=token.owner_id,
        organization_id=token.organization_id,
        name=token.name,
        display_prefix=row.display_prefix,
        scopes=tuple(token.scopes),
        terminal_ids=terminal_ids,
        allowed_ips=tuple(token.allowed_ips),
        expires_at=_epoch(token.expires_at),
        rate_limit_per_hour=int(rate),
        secret_valid_until=valid_until,
        organization_name=token.organization.name,
        terminal_codes=terminal_codes,
        created_at=_epoch(token.created_at),
        regenerated_at=_epoch(token.regenerated_at),
        last_used_at=_epoch(token.last_used_at),
        pending=token.is_pending,
        kind=token.kind,
        org_access=token.organization.api_access,
        org_slug=token.organization.slug,
        two_factor_deadline=_epoch(row.two_factor_deadline),
        service_account_name=token.service_account.name if token.service_account_id else "",
        owner_email=token.owner.email,
    )


def _touch(token_id: int, ip: str | None) -> None:
    """Record last use and the last five distinct addresses: at most once a minute per token
    (the cache decides), so a busy token never turns every request into a row lock."""
    from django.utils import timezone

    try:
        recent = (
            PersonalAccessToken.objects.filter(pk=token_id)
            .values_list("recent_ips", flat=True)
            .first()
        ) or []
        ips = ([ip] if ip else []) + [seen for seen in recent if seen != ip]
        PersonalAccessToken.objects.filter(pk=token_id).update(
            last_used_at=timezone.now(), last_used_ip=ip, recent_ips=ips[:5]
        )
    except DatabaseError:
        logger.exception("Could not record the token's last use")


def token_response_headers(request: Request | HttpRequest) -> dict[str, str]:
    """What an authenticated response says about its token, as GitHub's X-OAuth-Scopes does."""
    django_request = _django_request(request)
    state: TokenState | None = getattr(django_request, "qg_token", None)
    headers: dict[str, str] = {}
    if state is not None:
        headers.update(_token_headers(state))
    rate = getattr(django_request, "qg_rate", None)
    if rate is not None:
        limit, remaining, reset = rate
        headers["X-RateLimit-Limit"] = str(limit)
        headers["X-RateLimit-Remaining"] = str(remaining)
        headers["X-RateLimit-Reset"] = str(reset)
    return headers


def _token_headers(state: TokenState) -> dict[str, str]:
    headers = state.memo.get("headers")
    if headers is None:
        headers = {"X-Token-Scopes": ", ".join(state.scopes)}
        if state.expires_at is not None:
            expires = datetime.fromtimestamp(state.expires_at, tz=UTC)
            headers["X-Token-Expires"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        state.memo["headers"] = headers
    return headers
