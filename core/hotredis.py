"""Redis for the partner API's hot path: one connection per thread, one round trip per request.

Every API request needs Redis twice: the token cache's commands before the view (state,
rate-limit count, touch, address block) and the usage log's XADD after it. Through redis-py's
client and pipeline each round trip cost ~110 µs of CPU here (command stack, retry wrapper, pool
checkout and release, a callback per reply): more than the whole unauthenticated request the
benchmark compares us with. So this module talks to Redis through a redis-py `Connection` that
the thread keeps (connecting, AUTH and SELECT from the URL, the hiredis parser, socket timeouts
and the exceptions are all still redis-py's), and it makes one round trip of the two:

- `execute` sends commands and reads their replies (the token cache).
- `send` writes a command and leaves its reply to be read by the next round trip on the same
  connection (the usage log's XADD: the request does not wait for Redis to say "added").
  If that reply turns out to be an error, or the connection dies before it is read, the
  command's `on_failure` runs then, so the caller can keep the record another way. It must be
  quick and must not touch the database: it runs in the middle of another request.

Owed replies are read by the next `execute`, by `send` once MAX_UNREAD are owed, when the
thread ends, and at exit (every thread's connections). A connection belongs to one thread of
one process (a forked child makes its own). Any error drops it, failing the commands whose
replies were not read yet. A connection that had worked and then fails (Redis restarted, an
idle connection closed by a proxy) is replaced at once and the call tried again, once. For
`execute` that means its commands may run twice when the connection died after Redis ran them
but before the reply came back: the token cache's rate-limit counter then counts one request
twice (a token may see its 429 one request early, never late) and the once-a-minute
`last_used_at` update may skip a minute.

Connections are per URL and made from `client_for(url)`, the hot path's redis-py client (short
timeouts), which the token cache and the usage log also use for their other commands.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis
from redis.connection import AbstractConnection

logger = logging.getLogger(__name__)

OnFailure = Callable[[Exception], None]
# Replies left unread at most; more (a run of requests that never reach `execute`, such as
# malformed tokens) are read at once.
MAX_UNREAD = 64


@dataclass(eq=False)
class _Wire:
    connection: AbstractConnection
    unread: list[OnFailure] = field(default_factory=list)
    worked: bool = False  # a round trip succeeded since it (re)connected
    # Taken by every call of the owning thread; settle_all (at exit) skips a wire that is busy.
    lock: threading.Lock = field(default_factory=threading.Lock)


_local = threading.local()
_all_wires: weakref.WeakSet[_Wire] = weakref.WeakSet()


@cache
def client_for(url: str) -> redis.Redis:
    """The redis-py client for `url` on the API's path. Short timeouts: a sick Redis must not
    hold requests hostage; the callers fall back instead. Its pool's settings (timeouts,
    credentials, database) also make this module's per-thread connections."""
    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)


def execute(url: str, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Send `commands` in one write and return their replies, in order; replies owed to
    earlier `send`s are read on the way. A command's error reply raises, as in redis-py."""
    wire = _wire(url)
    connection = wire.connection
    packed = connection.pack_commands(commands)

    def round_trip() -> list[Any]:
        connection.send_packed_command(packed, check_health=False)
        _read_unread(wire)
        return [connection.read_response() for _ in commands]

    with wire.lock:
        replies = _exchange(wire, round_trip)
        wire.worked = True
        return replies


def send(url: str, command: tuple[Any, ...], *, on_failure: OnFailure) -> None:
    """Write `command` now; its reply is read by the next round trip on this connection.

    Raises when it cannot be written (then `on_failure` is not called: the caller knows).
    """
    wire = _wire(url)
    packed = wire.connection.pack_command(*command)
    with wire.lock:
        _exchange(wire, lambda: wire.connection.send_packed_command(packed, check_health=False))
        wire.unread.append(on_failure)
        if len(wire.unread) >= MAX_UNREAD:
            _settle(wire)


def _exchange(wire: _Wire, talk: Callable[[], Any]) -> Any:
    """`talk` on the wire's connection. Any error drops the connection (failing what it still
    owes); a ConnectionError on a connection that had worked is tried once more on a new one."""
    while True:
        retry = wire.worked
        try:
            return talk()
        except redis.ConnectionError as error:
            _drop(wire, error)
            if not retry:
                raise
        except BaseException as error:
            _drop(wire, error)
            raise


def settle() -> None:
    """Read every reply still owed on this thread's connections."""
    _settle_thread(_wires())


def settle_all() -> None:
    """Read every reply still owed on every thread's connections (at exit). A connection that
    is busy in its own thread (the lock is taken) is left alone rather than raced."""
    for wire in list(_all_wires):
        if wire.lock.acquire(blocking=False):
            try:
                _settle(wire)
            finally:
                wire.lock.release()


def reset() -> None:
    """Settle and close this thread's connections (tests that stop or move Redis)."""
    settle()
    for wire in _wires().values():
        wire.connection.disconnect()
    _local.wires = _ThreadWires()


def _settle(wire: _Wire) -> None:
    if not wire.unread:
        return
    try:
        _read_unread(wire)
    except Exception as error:  # every unread command is failed over
        _drop(wire, error)
    except BaseException as error:  # SystemExit (a worker told to stop): fail over, then stop
        _drop(wire, error)
        raise


def _read_unread(wire: _Wire) -> None:
    while wire.unread:
        try:
            wire.connection.read_response()
        except redis.ResponseError as error:
            # Refused (out of memory, wrong type): the connection is still in step.
            _fail(wire.unread.pop(0), error)
        else:
            wire.unread.pop(0)


def _drop(wire: _Wire, error: BaseException) -> None:
    # Replies may be left on the socket: never reuse it.
    wire.connection.disconnect()
    wire.worked = False
    unread, wire.unread = wire.unread, []
    failure = error if isinstance(error, Exception) else redis.ConnectionError(repr(error))
    try:
        while unread:
            _fail(unread.pop(0), failure)
    finally:
        # Even when a callback is interrupted (SystemExit), the others still get their turn.
        for on_failure in unread:
            _fail(on_failure, failure)


def _fail(on_failure: OnFailure, error: Exception) -> None:
    try:
        on_failure(error)
    except Exception:
        logger.exception("A Redis command's failure handler failed")


def _settle_thread(connections: dict[str, _Wire]) -> None:
    for wire in list(connections.values()):
        with wire.lock:
            _settle(wire)


class _ThreadWires:
    """One thread's connections by URL. When the thread ends, its thread-local storage goes and
    this with it: what its connections are still owed is settled then, not never."""

    __slots__ = ("__weakref__", "connections")

    def __init__(self) -> None:
        self.connections: dict[str, _Wire] = {}
        finalizer = weakref.finalize(self, _settle_thread, self.connections)
        finalizer.atexit = False  # at exit settle_all does it, without waiting on busy threads


def _wires() -> dict[str, _Wire]:
    try:
        return _local.wires.connections
    except AttributeError:  # this thread's first call
        holder = _local.wires = _ThreadWires()
        return holder.connections


def _wire(url: str) -> _Wire:
    wires = _wires()
    wire = wires.get(url)
    if wire is None:
        pool = client_for(url).connection_pool
        wire = wires[url] = _Wire(pool.connection_class(**pool.connection_kwargs))
        _all_wires.add(wire)
    return wire


def _forget_parent_connections() -> None:
    # A forked child (a gunicorn worker) must not use its parent's sockets: the parent's
    # thread-local state is copied into the child's same-named thread.
    global _local, _all_wires
    _local = threading.local()
    _all_wires = weakref.WeakSet()


os.register_at_fork(after_in_child=_forget_parent_connections)
# A worker that exits (gunicorn's max-requests, a reload) reads what it is owed first, so a
# refused XADD still reaches its fallback.
atexit.register(settle_all)
