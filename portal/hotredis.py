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
  command's `on_failure` runs then, so the caller can store the record another way.

A connection belongs to one thread of one process (gunicorn forks after import; a child makes
its own). Any error drops it, failing the commands whose replies were not read yet; the next
call reconnects, once at once if the connection that failed had worked before (Redis
restarted, an idle connection closed by a proxy).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.connection import AbstractConnection

logger = logging.getLogger(__name__)

OnFailure = Callable[[Exception], None]
# Replies left unread at most; more (a run of requests that never reach `execute`, such as
# malformed tokens) are read at once.
MAX_UNREAD = 64

_local = threading.local()


@dataclass
class _Wire:
    connection: AbstractConnection
    unread: list[OnFailure] = field(default_factory=list)
    worked: bool = False  # a round trip succeeded since it (re)connected


def execute(
    client_for: Callable[[str], redis.Redis], url: str, commands: Sequence[tuple[Any, ...]]
) -> list[Any]:
    """Send `commands` in one write and return their replies, in order; replies owed to
    earlier `send`s are read on the way. A command's error reply raises, as in redis-py.

    `client_for(url)` is the caller's configured client: its pool's settings (timeouts,
    credentials, database) make the connection.
    """
    wire = _wire(client_for, url)
    packed = wire.connection.pack_commands(commands)
    while True:
        retry = wire.worked
        try:
            wire.connection.send_packed_command(packed, check_health=False)
            _read_unread(wire)
            replies = [wire.connection.read_response() for _ in commands]
        except redis.ConnectionError as error:
            _drop(wire, error)
            if not retry:
                raise
            continue  # once: the connection that failed had worked, this one is new
        except BaseException as error:
            _drop(wire, error)
            raise
        wire.worked = True
        return replies


def send(
    client_for: Callable[[str], redis.Redis],
    url: str,
    command: tuple[Any, ...],
    *,
    on_failure: OnFailure,
) -> None:
    """Write `command` now; its reply is read by the next round trip on this connection.

    Raises when it cannot be written (then `on_failure` is not called: the caller knows).
    """
    wire = _wire(client_for, url)
    try:
        wire.connection.send_packed_command(
            wire.connection.pack_command(*command), check_health=False
        )
    except BaseException as error:
        _drop(wire, error)
        raise
    wire.unread.append(on_failure)
    if len(wire.unread) >= MAX_UNREAD:
        settle(wire)


def settle(wire: _Wire | None = None) -> None:
    """Read every reply still owed on this thread's connections (or on `wire`)."""
    wires = [wire] if wire is not None else list(_wires().values())
    for each in wires:
        if not each.unread:
            continue
        try:
            _read_unread(each)
        except BaseException as error:  # every unread command is failed over
            _drop(each, error)


def reset() -> None:
    """Settle and close this thread's connections (tests that stop or move Redis)."""
    settle()
    for wire in _wires().values():
        wire.connection.disconnect()
    _local.wires = {}


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
    for on_failure in unread:
        _fail(on_failure, error)


def _fail(on_failure: OnFailure, error: BaseException) -> None:
    try:
        on_failure(error if isinstance(error, Exception) else redis.ConnectionError(str(error)))
    except Exception:
        logger.exception("A Redis command's failure handler failed")


def _wires() -> dict[str, _Wire]:
    try:
        return _local.wires
    except AttributeError:  # this thread's first call
        wires = _local.wires = {}
        return wires


def _forget_parent_connections() -> None:
    # A forked child (a gunicorn worker) must not use its parent's sockets: the parent's
    # thread-local state is copied into the child's same-named thread.
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_parent_connections)


def _wire(client_for: Callable[[str], redis.Redis], url: str) -> _Wire:
    wires = _wires()
    wire = wires.get(url)
    if wire is None:
        pool = client_for(url).connection_pool
        wire = wires[url] = _Wire(pool.connection_class(**pool.connection_kwargs))
    return wire


# A worker that exits (gunicorn's max-requests, a reload) reads what it is owed first, so a
# refused XADD still reaches its fallback.
atexit.register(settle)
