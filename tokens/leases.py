"""Rate-limit counting against leases: a block of the hour's numbers at a time, not a round trip
per request.

A token's hour has one counter in Redis (`qg:rl:<hash>:<window start>`). A process takes a block
of it at once (INCRBY size): the numbers total-size+1 … total are its own, and it hands them out
to its requests in order. Every request thus gets a number no other request of any process
gets, and a request whose number is above the limit is refused: **across all processes at most
`limit` requests are accepted in an hour, exactly** (the README's "Guarantees").

What it costs: numbers a process leased but did not use before the hour ended are lost, so a
token may be refused slightly before its limit when its requests are spread over processes.
Blocks shrink as the limit nears (a sixteenth of what is left, at most LEASE_MAX), so the
numbers at stake at the end are few. Once a process has seen the counter pass the limit it
refuses the rest of the hour without asking Redis. One round trip per block: at LEASE_MAX and
a few thousand requests a second, a few dozen a second.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from core import hotredis

LEASE_MAX = 100
WINDOW_TTL_SECONDS = 3600 + 60


@dataclass(slots=True)
class _Lease:
    next: int  # the next number to hand out
    last: int  # the block's last number: the counter's total when it was taken


_lock = threading.Lock()
_window = 0
_leases: dict[str, _Lease] = {}


def take(url: str, key: str, *, limit: int, window_start: int) -> int:
    """This request's number in the hour behind `key` (above `limit`: refuse it)."""
    global _window
    with _lock:
        if window_start != _window:  # a new hour: last hour's leases are worthless
            _window = window_start
            _leases.clear()
        lease = _leases.get(key)
        if lease is not None:
            if lease.next <= lease.last:
                number = lease.next
                lease.next += 1
                return number
            if lease.last >= limit:  # every number up to the limit is handed out somewhere
                return lease.last + 1
        known = lease.last if lease is not None else 0
    size = max(1, min(LEASE_MAX, (limit - known) // 16))
    pipe = hotredis.client_for(url).pipeline(transaction=False)
    pipe.incrby(key, size)
    pipe.expire(key, WINDOW_TTL_SECONDS, nx=True)
    total, _ = pipe.execute()
    first = int(total) - size + 1
    with _lock:
        if len(_leases) > 100_000:
            _leases.clear()
        _leases[key] = _Lease(next=first + 1, last=int(total))
    return first


def clear() -> None:
    """Forget every lease of this process (tests)."""
    with _lock:
        _leases.clear()


def _forget_parent_leases() -> None:
    # A forked child must not hand out numbers its parent also holds (nor wait on its lock).
    global _lock, _leases
    _lock, _leases = threading.Lock(), {}


os.register_at_fork(after_in_child=_forget_parent_leases)
