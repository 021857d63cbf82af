"""PostgreSQL dropped our persistent connection (a restart, a failover): the next request
still gets its answer, on a new connection. And while nothing is wrong, a request does not
pay a `SELECT 1` to find that out (core.postgresql)."""

import select
from collections.abc import Iterator

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own connections"),
]


def _drop_our_connection() -> None:
    """What a server restart does to it: the backend is terminated, the socket hangs up."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    readable = select.poll()
    readable.register(connection.connection.fileno(), select.POLLIN)
    assert readable.poll(5000), "the server did not hang up"


@pytest.fixture
def health_checks(monkeypatch) -> Iterator[list[bool]]:
    """A persistent connection with health checks, as production runs; the SELECT 1s Django
    sent, listed."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()
    connection.ensure_connection()
    sent: list[bool] = []
    backend = type(connections[DEFAULT_DB_ALIAS])  # the wrapper's class, not the proxy's
    real = backend.is_usable

    def counted(self) -> bool:
        sent.append(usable := real(self))
        return usable

    monkeypatch.setattr(backend, "is_usable", counted)
    yield sent
    connection.close()


def test_the_request_after_the_server_dropped_the_connection_is_answered(
    fleet, partner, health_checks
):
    assert partner.get("/api/v1/spreaders/EMX-001").status_code == 200
    _drop_our_connection()

    close_old_connections()  # request_started, which the test client does not send
    response = partner.get("/api/v1/spreaders/EMX-001")

    assert response.status_code == 200, response.content[:300]
    assert health_checks == [False]  # asked, refused, replaced


def test_a_quiet_connection_is_not_asked_select_1(fleet, partner, health_checks):
    for _ in range(3):
        close_old_connections()
        assert partner.get("/api/v1/spreaders/EMX-001").status_code == 200

    assert health_checks == []


def test_a_connection_left_in_a_transaction_is_still_asked(health_checks):
    connection.connection.execute("BEGIN")  # behind Django's back, as a leak would be
    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert health_checks == [True]
