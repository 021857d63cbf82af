"""Fault fixtures: Redis down, the database down. The fleet and token fixtures are the
hostile-input suite's (imported, so both suites test the same setup)."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

import telemetry.usage
from portal.celery import app
from tests.hostile.conftest import (  # noqa: F401 - fixtures, used by name
    _fresh_counters,
    fleet,
    new_secret,
    partner,
)
from tokens import cache as token_cache

# Nothing listens on port 1: connections are refused at once, as with a stopped server.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings, monkeypatch) -> Iterator[None]:
    """Every Redis client (cache, token state and rate limits, usage stream, broker) pointed at
    a closed port, with the process' circuit breakers and cached clients starting fresh."""
    settings.REDIS_URL = DEAD_REDIS_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    # Circuit-breaker state is per process: restore it so later tests start with Redis "up".
    monkeypatch.setattr(telemetry.usage, "_redis_down_until", 0.0)
    token_cache.reset_circuit()
    previous = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = DEAD_REDIS_URL, {}
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = previous
        token_cache.reset_circuit()


@contextmanager
def database_down() -> Iterator[None]:
    """Every query fails as it does when the server is gone.

    On PostgreSQL for real: the connection is closed and pointed at a port nothing listens
    on, so the next query's reconnect is refused. SQLite's test database lives in memory and
    its connection cannot be reopened elsewhere, so there opening a connection is made to fail
    the way SQLite fails on a missing file.
    """
    if connection.vendor == "postgresql":
        previous = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = "1"
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["PORT"] = previous
        return

    def refuse() -> None:
        with connection.wrap_database_errors:
            raise connection.Database.OperationalError("unable to open database file")

    real = connection.ensure_connection
    connection.ensure_connection = refuse
    try:
        yield
    finally:
        connection.ensure_connection = real


def no_internals(response) -> None:
    """Nothing about our insides in the body: no trace, no driver, no SQL, no exception name."""
    text = response.content.decode("utf-8", "replace").lower()
    for leak in ("traceback", "operationalerror", "psycopg", "sqlite", "select ", 'file "'):
        assert leak not in text, f"{leak!r} leaked: {text[:300]}"
