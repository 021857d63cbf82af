"""Redis on the partner API's hot path: the client, and the pushes that keep process memory true.

A partner-API request makes no Redis round trip when nothing changed. What it needs (the token's
state, whether its address is blocked) lives in the process, and Redis tells every process when
it changes, through client-side caching in broadcast mode: one connection per process runs
`CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX …` and is subscribed to
`__redis__:invalidate`, so whenever any client writes, deletes or expires a key under a tracked
prefix, Redis pushes that key's name to every process. `poll()`, called at the start of each
request, reads what arrived without blocking (one non-blocking `recv`, ~2 µs) and hands the keys
to the handler registered for their prefix (`track`), which drops what it kept for them.

When memory may be trusted (`poll` returns True): the connection is up and a PING sent less than
TRUST_SECONDS ago has come back. Redis answers in order, so every invalidation it sent before
that PING has been read; a connection that silently died (a partition, no reset) therefore
stops being trusted within TRUST_SECONDS, and the callers go to Redis or the database instead,
as every request once did. PINGs go out every PING_EVERY_SECONDS while requests come; a process
that was idle longer than TRUST_SECONDS answers its next request the slow way while its PING is
on the way. On every (re)connection and every loss the `on_reset` handlers run: memory that may
have missed a message is dropped, never trusted.

The guarantee this gives (README, "Guarantees"): a change committed and written to Redis is
refused by every process from the first request that starts after its invalidation reached the
process (well under a millisecond on loopback); at worst, with the connection silently broken,
TRUST_SECONDS.

Keys are per Redis server, not per database: invalidations for the same prefix in other
databases arrive too, and only cost a drop. A Redis without client tracking (before 6.0, some
proxies) is never trusted: every request then asks Redis.

`client_for(url)` is the hot path's redis-py client (short timeouts) for the round trips that
remain: a state not in memory, a rate-limit lease, the once-a-minute "last used" decision.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from functools import cache

import hiredis
import redis

logger = logging.getLogger(__name__)

TRUST_SECONDS = 1.0
PING_EVERY_SECONDS = 0.25
RETRY_AFTER_SECONDS = 5.0
CHANNEL = b"__redis__:invalidate"
_READ_SIZE = 65536

OnKeys = Callable[[list[bytes]], None]
_handlers: dict[bytes, OnKeys] = {}
_resets: list[Callable[[], None]] = []


@cache
def client_for(url: str) -> redis.Redis:
    """The redis-py client for `url` on the API's path. Short timeouts: a sick Redis must not
    hold requests hostage; the callers fall back instead."""
    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)


def track(prefix: str, on_keys: OnKeys, *, on_reset: Callable[[], None]) -> None:
    """Have `on_keys(keys)` told about every key under `prefix` that changes, and `on_reset()`
    whenever what was kept may have missed a change. Register at import, before the first poll
    (a listener tracks the prefixes known when it connects)."""
    _handlers[prefix.encode()] = on_keys
    _resets.append(on_reset)


def poll(url: str) -> bool:
    """Apply what Redis pushed since the last call; True when memory may be trusted."""
    listener = _listeners.get(url)
    if listener is None:
        listener = _listeners.setdefault(url, _Listener(url))
    return listener.poll()


def epoch(url: str) -> int:
    """Grows on every reset of memory (a new connection, a flush, a loss): a load that began
    in an earlier epoch must not be kept."""
    listener = _listeners.get(url)
    return listener.epoch if listener is not None else -1


def reset() -> None:
    """Close every listener of this process (tests that stop, move or flush Redis)."""
    for listener in list(_listeners.values()):
        listener.close()
    _listeners.clear()


def _pack(*parts: bytes | str | int) -> bytes:
    encoded = [part if isinstance(part, bytes) else str(part).encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded
    )


_PING = _pack("PING")


class _Listener:
    """One process's tracking connection to one Redis."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.connection = None  # the redis-py Connection that owns the socket
        self.reader = hiredis.Reader()
        self.epoch = 0
        self.verified_at = float("-inf")  # when the last answered PING was sent
        self.ping_sent_at: float | None = None
        self.down_until = 0.0

    def poll(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if self.sock is None and not self._connect(now):
                return False
            try:
                self._read()
                if self.ping_sent_at is None and now - self.verified_at >= PING_EVERY_SECONDS:
                    self.sock.send(_PING)
                    self.ping_sent_at = now
            except (OSError, redis.RedisError, hiredis.ProtocolError) as error:
                self._lost(error, now)
                return False
            return now - self.verified_at < TRUST_SECONDS

    def _connect(self, now: float) -> bool:
        if now < self.down_until:
            return False
        pool = client_for(self.url).connection_pool
        # RESP2 on this connection whatever the URL says: the invalidations then arrive as
        # the pub/sub messages of the channel it redirects them to.
        connection = pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})
        try:
            connection.connect()  # redis-py's: AUTH, SELECT, TLS, timeouts from the URL
            connection.send_command("CLIENT", "ID")
            client_id = connection.read_response()
            prefixes = [part for prefix in _handlers for part in (b"PREFIX", prefix)]
            connection.send_command(
                "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes
            )
            connection.read_response()
            sock = connection._sock
            sock.sendall(_pack("SUBSCRIBE", CHANNEL) + _PING)
            sock.setblocking(False)
        except (OSError, redis.RedisError) as error:
            connection.disconnect()
            self._lost(error, now)
            return False
        self.connection, self.sock, self.reader = connection, sock, hiredis.Reader()
        self.ping_sent_at, self.verified_at = now, float("-inf")
        self._reset()
        return True

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(_READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError):
                break
            if not data:
                raise redis.ConnectionError("Redis closed the tracking connection")
            self.reader.feed(data)
            if len(data) < _READ_SIZE:
                break
        while (message := self.reader.gets()) is not False:
            self._handle(message)

    def _handle(self, message) -> None:
        if isinstance(message, hiredis.ReplyError):
            raise redis.ResponseError(str(message))
        kind = message if message == b"PONG" else message[0]
        if kind in (b"pong", b"PONG"):
            if self.ping_sent_at is not None:
                self.verified_at, self.ping_sent_at = self.ping_sent_at, None
        elif kind == b"message" and message[1] == CHANNEL:
            keys = message[2]
            if keys is None:  # FLUSHDB / FLUSHALL: everything may have changed
                self._reset()
                return
            for prefix, on_keys in _handlers.items():
                matching = [key for key in keys if key.startswith(prefix)]
                if matching:
                    on_keys(matching)

    def _lost(self, error: BaseException, now: float) -> None:
        if self.sock is not None or now >= self.down_until:
            logger.warning(
                "Redis tracking connection lost (%s): token states come from Redis or the "
                "database until it is back",
                type(error).__name__,
            )
        self.close()
        self.down_until = now + RETRY_AFTER_SECONDS
        self._reset()

    def _reset(self) -> None:
        self.epoch += 1
        for on_reset in _resets:
            on_reset()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
        self.connection = self.sock = None
        self.verified_at, self.ping_sent_at = float("-inf"), None


_listeners: dict[str, _Listener] = {}


def _forget_parent_listeners() -> None:
    # A forked child (a gunicorn worker) must not read its parent's socket, nor trust memory
    # the parent filled: it connects its own listener and starts empty.
    global _listeners
    _listeners = {}
    for on_reset in _resets:
        on_reset()


os.register_at_fork(after_in_child=_forget_parent_listeners)
