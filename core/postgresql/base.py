"""Django's PostgreSQL backend, with a per-request health check that costs no round trip
while the connection is plainly fine.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request on a
reused connection, so that a connection the server dropped (a restart, a failover, an idle
timeout) is replaced instead of failing the request. That round trip was ~8% of
GET /api/v1/spreaders/{serial} (issue 22's profile) and one more statement for PostgreSQL.

A server that drops a connection says so on its socket: a FATAL message, then end of file.
So a connection that is idle (no transaction open) with nothing to read on its socket is
trusted as it is, and anything else (bytes waiting, a hang-up, a transaction left open, a
connection psycopg already knows is broken) gets Django's `SELECT 1`, as before. A peer that
vanished without a word (no FIN, a dead network) is caught by neither, as before: the query
then fails and Django closes the connection at the end of that request.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and is_quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def is_quiet(connection: Any) -> bool:
    """Whether a psycopg connection is open, idle, and has nothing on its socket to read."""
    if connection.closed or getattr(connection, "broken", False):
        return False
    if connection.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)  # any event, POLLHUP and POLLERR included, is not quiet
