"""The shared cache in front of token verification, and the per-token rate-limit counter.

One Redis round trip per API request does four things in one write: read the token's cached
state, count the request in the current hour's window, decide whether this request is the one
that updates `last_used_at` this minute, and read whether the address is blocked for failed
guesses (core.hotredis says why it bypasses redis-py's pipeline). Keys are the token's keyed
hash (never the secret), so the round trip needs nothing we don't hold before the first query.

The cached state is dropped on commit by every service that changes a token (`forget`), so a
revocation by any process is seen by the very next request. The TTL only bounds how long a
state survives a lost delete (Redis briefly unreachable at that moment).

Without Redis (the embedded default) there is no shared cache: every request looks the token up
(one query), and counters live in the process. While Redis is down the same fallback applies,
so the API keeps answering; rate limits then count per process (documented in the README).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from django.conf import settings

from core import hotredis
from tokens import scopes as scope_rules
from tokens.allowlist import ip_allowed

logger = logging.getLogger(__name__)

STATE_PREFIX = "qg:pat:"
RATE_PREFIX = "qg:rl:"
TOUCH_PREFIX = "qg:lu:"
# An address refused for too many failed authentications, until the epoch second stored.
BLOCK_PREFIX = "qg:ipblock:"
RATE_WINDOW_SECONDS = 3600
TOUCH_EVERY_SECONDS = 60
_RETRY_AFTER_SECONDS = 5.0
TOMBSTONE = b"-"


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


# Decoded states by their cached bytes. Redis answers every request with the same bytes until
# the state changes (a change writes a tombstone, then new bytes), so decoding once per process
# is enough; Redis is still asked on every request, so nothing here can outlive a revocation.
_DECODED_MAX = 4096
_decoded_states: dict[bytes, TokenState] = {}


def _decoded(raw: bytes) -> TokenState:
    state = _decoded_states.get(raw)
    if state is None:
        state = TokenState.from_json(raw)
        if len(_decoded_states) >= _DECODED_MAX:
            _decoded_states.clear()
        _decoded_states[raw] = state
    return state


@dataclass(frozen=True, slots=True)
class Lookup:
    state: TokenState | None  # None: not cached (or no shared cache)
    count: int  # requests in this window, this one included
    reset: int  # epoch seconds when the window ends
    touch: bool  # this request should record last_used_at / IP
    blocked_until: float | None = None  # the address is refused until then (failed guesses)


def window(now: float) -> tuple[int, int]:
    start = int(now) - int(now) % RATE_WINDOW_SECONDS
    return start, start + RATE_WINDOW_SECONDS


# --- Redis ------------------------------------------------------------------------------------


_redis_down_until = 0.0


def _redis_url() -> str:
    """REDIS_URL, or "" without Redis or while the circuit breaker says it is down."""
    url = getattr(settings, "REDIS_URL", "")
    if not url or time.monotonic() < _redis_down_until:
        return ""
    return url


def _redis() -> redis.Redis | None:
    url = _redis_url()
    return hotredis.client_for(url) if url else None


def _redis_failed(error: Exception) -> None:
    global _redis_down_until
    # Don't pay a connect timeout on every request while Redis is down.
    _redis_down_until = time.monotonic() + _RETRY_AFTER_SECONDS
    logger.warning("Redis unavailable for token state and rate limits: %s", type(error).__name__)


def reset_circuit() -> None:
    """Forget a past Redis failure (tests, and after a deliberate reconnect)."""
    global _redis_down_until
    _redis_down_until = 0.0


# --- process-local fallback -------------------------------------------------------------------


class _LocalCounters:
    """Per-process counters for the embedded default and while Redis is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}
        self._touched: dict[str, float] = {}
        self._blocked: dict[str, float] = {}

    def block(self, ip: str, until: float) -> None:
        with self._lock:
            if len(self._blocked) > 100_000:
                self._blocked.clear()
            self._blocked[ip] = until

    def blocked_until(self, ip: str, now: float) -> float | None:
        until = self._blocked.get(ip)
        return until if until is not None and until > now else None

    def hit(self, key: str, now: float) -> tuple[int, bool]:
        start, _ = window(now)
        with self._lock:
            if start != self._window:
                self._window, self._counts = start, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            last = self._touched.get(key)
            touch = last is None or now - last >= TOUCH_EVERY_SECONDS
            if touch:
                if len(self._touched) > 100_000:
                    self._touched.clear()
                self._touched[key] = now
            return count, touch

    def clear(self) -> None:
        with self._lock:
            self._window, self._counts, self._touched, self._blocked = 0, {}, {}, {}


local_counters = _LocalCounters()


# --- the three operations ---------------------------------------------------------------------


def lookup(secret_hash: str, *, ip: str | None = None, now: float | None = None) -> Lookup:
    """Cached state, window count, touch decision and whether `ip` is refused for failed
    guesses, for one request: one round trip."""
    now = time.time() if now is None else now
    start, reset = window(now)
    url = _redis_url()
    if url:
        rate_key = f"{RATE_PREFIX}{secret_hash}:{start}"
        try:
            raw, count, _, touched, blocked = hotredis.execute(
                url,
                (
                    ("GET", STATE_PREFIX + secret_hash),
                    ("INCR", rate_key),
                    ("EXPIRE", rate_key, RATE_WINDOW_SECONDS + 60, "NX"),
                    ("SET", TOUCH_PREFIX + secret_hash, b"1", "NX", "EX", TOUCH_EVERY_SECONDS),
                    ("GET", BLOCK_PREFIX + (ip or "-")),
                ),
            )
        except redis.RedisError as error:
            _redis_failed(error)
        else:
            cached = raw is not None and raw != TOMBSTONE
            state = _decoded(raw) if cached else None
            until = float(blocked) if blocked is not None else None
            return Lookup(
                state=state,
                count=int(count),
                reset=reset,
                touch=bool(touched),
                blocked_until=until if until is not None and until > now else None,
            )
    count, touch = local_counters.hit(secret_hash, now)
    blocked_until = local_counters.blocked_until(ip or "-", now)
    return Lookup(state=None, count=count, reset=reset, touch=touch, blocked_until=blocked_until)


def block_address(ip: str | None, *, until: float, now: float | None = None) -> None:
    """Refuse every token from `ip` until `until` (too many failed authentications)."""
    now = time.time() if now is None else now
    key = ip or "-"
    client = _redis()
    if client is not None:
        try:
            client.set(BLOCK_PREFIX + key, str(until), ex=max(1, int(until - now) + 1))
            return
        except redis.RedisError as error:
            _redis_failed(error)
    local_counters.block(key, until)


def remember(secret_hash: str, state: TokenState, *, now: float | None = None) -> None:
    """Cache a verified state, never past its token's expiry or its secret's overlap."""
    client = _redis()
    if client is None:
        return
    now = time.time() if now is None else now
    ttl = float(settings.QUAYGATE["TOKEN_CACHE_TTL"])
    for limit in (state.expires_at, state.secret_valid_until):
        if limit is not None:
            ttl = min(ttl, limit - now)
    if ttl < 1:
        return
    try:
        # NX: a tombstone left by `forget` wins over a state read before the change committed.
        client.set(STATE_PREFIX + secret_hash, state.to_json(), ex=int(ttl), nx=True)
    except redis.RedisError as error:
        _redis_failed(error)


def forget(secret_hashes: Iterable[str]) -> None:
    """Replace cached states with tombstones. Called on commit by every service that changes a token.

    A tombstone rather than a delete: a request that read the token from the database just
    before the change committed would otherwise cache the old state again right after it.
    `remember` writes only where no key exists, so for one TTL the token is looked up afresh.
    """
    keys = [STATE_PREFIX + secret_hash for secret_hash in secret_hashes]
    url = getattr(settings, "REDIS_URL", "")
    if not keys or not url:
        return
    ttl = int(settings.QUAYGATE["TOKEN_CACHE_TTL"]) + 1
    try:
        # Not through the circuit breaker: a revocation must try Redis even right after a blip.
        pipe = hotredis.client_for(url).pipeline(transaction=False)
        for key in keys:
            pipe.set(key, TOMBSTONE, ex=ttl)
        pipe.execute()
    except redis.RedisError:
        # The TTL bounds how long the stale state can live. Say so loudly: a revocation is late.
        logger.error("Could not drop %d cached token state(s); they expire by TTL", len(keys))
