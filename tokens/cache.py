"""The token state in process memory, kept true by Redis; rate limits and "last used" beside it.

A request of a token this process has seen makes no round trip at all: the state is in memory
(`_memory`, by the token's keyed hash), and Redis pushes every change of a `qg:pat:` key to every
process (core.hotredis, client-side caching in broadcast mode), which drops the entry. Every
service that changes a token writes a tombstone there on commit (`forget`), so a revocation by
any process reaches every process with the next request that starts after the push arrived.
Whether an address is blocked for failed guesses is kept the same way (`qg:ipblock:`).

A state not in memory (first use, or memory not trusted: core.hotredis says when) comes from
Redis (one round trip) or, not cached there either, from the database (one indexed query), and
goes to Redis (`remember`, SET NX: a tombstone wins) and to memory. A load that a change may
have overtaken is not kept: an invalidation of its key while it was loading marks it
(`_loading`), and a reset of memory (a new connection) outdates every load that began before.

Counting: tokens.leases hands out the hour's numbers from blocks leased from Redis, exact
across processes. "Last used": at most once a minute per token per process, a SET NX in Redis
decides which one process writes the row.

Without Redis (the embedded default), or while it is down: no shared state and no memory (there
is nobody to say when it changes), every request looks the token up (one query), and counters
live in the process; rate limits then count per process (documented in the README).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings

from core import hotredis
from tokens import leases
from tokens.state import TokenState

__all__ = ["Lookup", "TokenState", "block_address", "count", "forget", "lookup", "remember"]

logger = logging.getLogger(__name__)

STATE_PREFIX = "qg:pat:"
RATE_PREFIX = "qg:rl:"
TOUCH_PREFIX = "qg:lu:"
# An address refused for too many failed authentications, until the epoch second stored.
BLOCK_PREFIX = "qg:ipblock:"
RATE_WINDOW_SECONDS = 3600
TOUCH_EVERY_SECONDS = 60
_RETRY_AFTER_SECONDS = 5.0
_MEMORY_MAX = 100_000
TOMBSTONE = b"-"


@dataclass(frozen=True, slots=True)
class Lookup:
    state: TokenState | None  # None: not cached (or no shared cache)
    blocked_until: float | None = None  # the address is refused until then (failed guesses)
    # Where the load of a missing state began (see remember): the memory's epoch and the
    # key's invalidation count then. None: the state must not be kept in memory.
    since: tuple[int, int] | None = None


def window(now: float) -> tuple[int, int]:
    start = int(now) - int(now) % RATE_WINDOW_SECONDS
    return start, start + RATE_WINDOW_SECONDS


# --- memory -----------------------------------------------------------------------------------

# secret hash → (state, epoch second it was kept): the TTL bounds an entry whose change was
# never written to Redis, as it bounds the Redis key.
_memory: dict[str, tuple[TokenState, float]] = {}
# Address → epoch second it is blocked until (0.0: known not to be blocked).
_blocks: dict[str, float] = {}
# Secret hash → invalidations seen while a load of it was on the way.
_loading: dict[str, int] = {}
# How many block invalidations arrived: an answer from before the latest is not kept.
_block_changes = [0]


def _on_state_keys(keys: list[bytes]) -> None:
    for key in keys:
        secret_hash = key[len(STATE_PREFIX) :].decode()
        _memory.pop(secret_hash, None)
        if secret_hash in _loading:
            _loading[secret_hash] += 1


def _on_block_keys(keys: list[bytes]) -> None:
    _block_changes[0] += 1
    for key in keys:
        _blocks.pop(key[len(BLOCK_PREFIX) :].decode(), None)


def _clear_memory() -> None:
    _memory.clear()
    _blocks.clear()


hotredis.track(STATE_PREFIX, _on_state_keys, on_reset=_clear_memory)
hotredis.track(BLOCK_PREFIX, _on_block_keys, on_reset=_clear_memory)


def _keep(secret_hash: str, state: TokenState, since: tuple[int, int], url: str, now: float):
    """Keep a loaded state in memory unless a change may have overtaken the load."""
    trusted = hotredis.poll(url)  # what arrived during the load is applied first
    current = (hotredis.epoch(url), _loading.pop(secret_hash, None))
    if trusted and since == current:
        if len(_memory) >= _MEMORY_MAX:
            _memory.clear()
        _memory[secret_hash] = (state, now)


# --- Redis ------------------------------------------------------------------------------------


_redis_down_until = 0.0


def _redis_url() -> str:
    """REDIS_URL, or "" without Redis or while the circuit breaker says it is down."""
    url = getattr(settings, "REDIS_URL", "")
    if not url or time.monotonic() < _redis_down_until:
        return ""
    return url


def _redis_failed(error: Exception) -> None:
    global _redis_down_until
    # Don't pay a connect timeout on every request while Redis is down.
    _redis_down_until = time.monotonic() + _RETRY_AFTER_SECONDS
    logger.warning("Redis unavailable for token state and rate limits: %s", type(error).__name__)


def reset_circuit() -> None:
    """Forget a past Redis failure and what memory holds (tests, a deliberate reconnect)."""
    global _redis_down_until
    _redis_down_until = 0.0
    _clear_memory()
    _loading.clear()
    _touched.clear()
    leases.clear()


# --- process-local fallback -------------------------------------------------------------------


class _LocalCounters:
    """Per-process counters for the embedded default and while Redis is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}
        self._blocked: dict[str, float] = {}

    def block(self, ip: str, until: float) -> None:
        with self._lock:
            if len(self._blocked) > 100_000:
                self._blocked.clear()
            self._blocked[ip] = until

    def blocked_until(self, ip: str, now: float) -> float | None:
        until = self._blocked.get(ip)
        return until if until is not None and until > now else None

    def hit(self, key: str, now: float) -> int:
        start, _ = window(now)
        with self._lock:
            if start != self._window:
                self._window, self._counts = start, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            return count

    def clear(self) -> None:
        with self._lock:
            self._window, self._counts, self._blocked = 0, {}, {}
        _touched.clear()


local_counters = _LocalCounters()


# --- the operations ---------------------------------------------------------------------------


def lookup(secret_hash: str, *, ip: str | None = None, now: float | None = None) -> Lookup:
    """The token's state and whether `ip` is refused for failed guesses: from memory when it
    may be trusted, else one round trip to Redis. `state` None: load it and `remember` it."""
    now = time.time() if now is None else now
    address = ip or "-"
    url = _redis_url()
    if not url:
        return Lookup(state=None, blocked_until=local_counters.blocked_until(address, now))
    since = None
    if hotredis.poll(url):
        kept, until = _memory.get(secret_hash), _blocks.get(address)
        if kept is not None and until is not None and now - kept[1] < _memory_ttl():
            return Lookup(state=kept[0], blocked_until=until if until > now else None)
        if len(_loading) >= _MEMORY_MAX:  # loads that never finished (unknown tokens)
            _loading.clear()
        since = (hotredis.epoch(url), _loading.setdefault(secret_hash, 0))
    block_changes = _block_changes[0]
    try:
        raw, blocked = hotredis.client_for(url).mget(
            STATE_PREFIX + secret_hash, BLOCK_PREFIX + address
        )
    except redis.RedisError as error:
        _redis_failed(error)
        return Lookup(state=None, blocked_until=local_counters.blocked_until(address, now))
    until = float(blocked) if blocked is not None else 0.0
    state = TokenState.from_json(raw) if raw is not None and raw != TOMBSTONE else None
    if since is not None:
        unchanged = block_changes == _block_changes[0]  # no block changed while we asked
        if hotredis.poll(url) and since[0] == hotredis.epoch(url) and unchanged:
            _blocks[address] = until
        if state is not None:
            _keep(secret_hash, state, since, url, now)
            since = None
    return Lookup(state=state, blocked_until=until if until > now else None, since=since)


def _memory_ttl() -> float:
    return float(settings.QUAYGATE["TOKEN_CACHE_TTL"])


def count(secret_hash: str, *, limit: int, now: float) -> tuple[int, int]:
    """This request's number in its token's hour (above `limit`: refuse it), and when the
    hour ends. Exact across processes through Redis; per process without it."""
    start, reset = window(now)
    url = _redis_url()
    if url:
        try:
            key = f"{RATE_PREFIX}{secret_hash}:{start}"
            return leases.take(url, key, limit=limit, window_start=start), reset
        except redis.RedisError as error:
            _redis_failed(error)
    return local_counters.hit(secret_hash, now), reset


# Secret hash → when this process last decided about "last used".
_touched: dict[str, float] = {}


def touch_due(secret_hash: str, now: float) -> bool:
    """Should this request record the token's last use? At most once a minute per token: the
    process asks Redis once a minute (SET NX), and only the one that set it writes the row."""
    last = _touched.get(secret_hash)
    if last is not None and now - last < TOUCH_EVERY_SECONDS:
        return False
    if len(_touched) >= _MEMORY_MAX:
        _touched.clear()
    _touched[secret_hash] = now
    url = _redis_url()
    if not url:
        return True
    try:
        client = hotredis.client_for(url)
        return bool(client.set(TOUCH_PREFIX + secret_hash, b"1", nx=True, ex=TOUCH_EVERY_SECONDS))
    except redis.RedisError as error:
        _redis_failed(error)
        return True


def block_address(ip: str | None, *, until: float, now: float | None = None) -> None:
    """Refuse every token from `ip` until `until` (too many failed authentications)."""
    now = time.time() if now is None else now
    key = ip or "-"
    url = _redis_url()
    if url:
        try:
            client = hotredis.client_for(url)
            client.set(BLOCK_PREFIX + key, str(until), ex=max(1, int(until - now) + 1))
            return
        except redis.RedisError as error:
            _redis_failed(error)
    local_counters.block(key, until)


def remember(
    secret_hash: str,
    state: TokenState,
    *,
    now: float | None = None,
    since: tuple[int, int] | None = None,
) -> None:
    """Cache a verified state, never past its token's expiry or its secret's overlap; in this
    process's memory too when `since` (from the lookup that missed) says no change overtook it.

    Kept in memory before it is written: the write's own invalidation then drops it again, and
    the next request keeps what Redis answers (writing nothing, so nothing drops it)."""
    url = _redis_url()
    now = time.time() if now is None else now
    ttl = _memory_ttl()
    for limit in (state.expires_at, state.secret_valid_until):
        if limit is not None:
            ttl = min(ttl, limit - now)
    if not url or ttl < 1:
        _loading.pop(secret_hash, None)
        return
    if since is not None:
        _keep(secret_hash, state, since, url, now)
    try:
        # NX: a tombstone left by `forget` wins over a state read before the change committed.
        hotredis.client_for(url).set(
            STATE_PREFIX + secret_hash, state.to_json(), ex=int(ttl), nx=True
        )
    except redis.RedisError as error:
        _redis_failed(error)


def forget(secret_hashes: Iterable[str]) -> None:
    """Replace cached states with tombstones. Called on commit by every service that changes a token.

    A tombstone rather than a delete: a request that read the token from the database just
    before the change committed would otherwise cache the old state again right after it.
    `remember` writes only where no key exists, so for one TTL the token is looked up afresh.
    Writing it makes Redis tell every process to drop the state from memory; this process drops
    it at once.
    """
    hashes = list(secret_hashes)
    for secret_hash in hashes:
        _memory.pop(secret_hash, None)
        if secret_hash in _loading:
            _loading[secret_hash] += 1
    keys = [STATE_PREFIX + secret_hash for secret_hash in hashes]
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
