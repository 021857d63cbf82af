"""Shared fixtures: two organisations, each with an admin and a member, plus an outsider.

Every permission test is one line of setup: ask for `owner`, `member`, `org_admin`, `outsider`.
"""

import contextlib
import os
import time
from collections.abc import Iterator

import pytest
import redis as redis_lib

from accounts.models import Membership, Organization, User

PASSWORD = "correct-horse-battery-staple"

# Integration and browser tests need real services. Locally they skip when a service is
# missing; CI sets QUAYGATE_REQUIRE_SERVICES=1 so a missing service fails the run instead.
REQUIRE_SERVICES = os.environ.get("QUAYGATE_REQUIRE_SERVICES") == "1"


def pytest_configure(config) -> None:
    """Argon2 at its lowest cost in this process (tests/support/hashers.py says why), and no
    parallel worker without its own Redis db (tests/support/parallel.py)."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "tests.support.hashers.CheapArgon2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get("REDIS_URL") and os.environ.get("QUAYGATE_TEST_WORKER") != worker:
        raise pytest.UsageError(
            "parallel workers share one Redis db: run them with -p tests.support.parallel "
            "(make test does)"
        )


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def celery_eager(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run in-process in unit tests; tests marked `integration` use a real worker."""
    from portal.celery import app

    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture(scope="session", autouse=True)
def _usage_flushed_where_tests_look() -> None:
    """No usage-log flusher thread in the test process: it would write outside each test's
    transaction and at moments no test chooses. Tests call usage.settle() where they look;
    the thread itself is proven on real gunicorn workers (tests/telemetry/…durability)."""
    from telemetry import usage

    usage.BACKGROUND = False


@pytest.fixture(autouse=True)
def _settle_hot_redis() -> Iterator[None]:
    """No test inherits another's buffered usage records, a usage-log circuit breaker tripped
    by a Redis it stopped, or token states kept in memory by a listener it outlived."""
    from core import hotredis
    from telemetry import usage
    from tokens import cache as token_cache

    usage._redis_down_until = 0.0
    yield
    usage._pending.clear()
    usage._redis_down_until = 0.0
    with contextlib.suppress(Exception):  # a Redis a test stopped has nothing to close
        hotredis.reset()
    token_cache.reset_circuit()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    yield
    for alias in caches:
        with contextlib.suppress(Exception):  # a cache that is down has nothing to clear
            cache = caches[alias]
            if isinstance(cache, RedisCache):
                _empty_this_db(cache._cache.get_client(write=True))
            else:
                cache.clear()


def _empty_this_db(client: redis_lib.Redis) -> None:
    """What FLUSHDB does to this db, without FLUSHDB: Redis answers a flush with a "forget
    everything" push to every tracking connection of the server, which would reset the token
    memory of the other parallel worker (tests/support/parallel.py) in the middle of its test."""
    keys = list(client.scan_iter(count=1000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start : start + 1000])


def kill_connections_to_this_db(client: redis_lib.Redis, kind: str) -> None:
    """A Redis restart, as seen by this process: every connection of `kind` ("normal",
    "pubsub") to this client's db but the client's own is closed by the server. Not the whole
    server's: the other parallel worker's connections are to another db."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    own = client.client_id()
    for info in client.client_list(_type=kind):
        if int(info["db"]) == db and int(info["id"]) != own:
            client.client_kill_filter(_id=info["id"])


@pytest.fixture
def redis_client(settings) -> Iterator[redis_lib.Redis]:
    """The real Redis at REDIS_URL, answering: skips locally without one (fails in CI).
    Timeouts, so a test that breaks Redis fails instead of hanging. Tests clean up their keys."""
    url = settings.REDIS_URL
    require(bool(url), "needs REDIS_URL")
    client = redis_lib.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis_lib.RedisError:
        require(False, f"Redis at {url} is not reachable")
    yield client
    client.close()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (tests.support.smtp); its `inbox` holds what arrived."""
    from tests.support.smtp import running_smtp

    with running_smtp() as server:
        yield server


@pytest.fixture
def mail_worker(smtp, redis_client):
    """A real Celery worker that sends its email to `smtp` (PostgreSQL and Redis needed)."""
    from tests.support.smtp import mailing_worker

    with mailing_worker(smtp):
        yield


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """For tests that call a real WSGI handler: it closes old connections when a request starts
    and ends, which must not be the one holding the test's transaction (Django's test client
    does the same)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def without_usage_log(settings) -> None:
    """Count a view's own queries. Without Redis (the embedded default) the usage log inserts
    each request's row at once; with Redis it goes to a stream (tests/telemetry prove both, and
    tests/tokens/test_token_cache.py zero queries end to end)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "UsageLog" not in m]


@pytest.fixture
def no_redis(settings) -> None:
    """The embedded default: no REDIS_URL, so caches, counters and the usage log fall back."""
    settings.REDIS_URL = ""


def make_org(name: str, api_access: str = Organization.ApiAccess.PRODUCTION) -> Organization:
    """Test organisations reach production by default; pass api_access for sandbox / none."""
    return Organization.objects.create(
        name=name, slug=name.lower().replace(" ", "-"), api_access=api_access
    )


def make_user(
    email: str, org: Organization | None = None, role: str = Membership.Role.MEMBER, **fields
) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, **fields)
    if org is not None:
        Membership.objects.create(user=user, organization=org, role=role)
    return user


@pytest.fixture
def org(db) -> Organization:
    return make_org("Port of Rotterdam")


@pytest.fixture
def other_org(db) -> Organization:
    return make_org("Port of Antwerp")


@pytest.fixture
def org_admin(org) -> User:
    return make_user("admin@rotterdam.example", org, Membership.Role.ADMIN, full_name="Ada Admin")


@pytest.fixture
def owner(org) -> User:
    """A member of `org` who owns tokens in the tests."""
    return make_user("owner@rotterdam.example", org, full_name="Owen Owner")


@pytest.fixture
def member(org) -> User:
    """Another member of the same organisation."""
    return make_user("member@rotterdam.example", org, full_name="Mia Member")


@pytest.fixture
def outsider(other_org) -> User:
    """A member of the other organisation."""
    return make_user("outsider@antwerp.example", other_org, full_name="Otto Outsider")


@pytest.fixture
def ops_user(db) -> User:
    return make_user("ops@quaygate.example", is_staff=True)


def pytest_report_header(config) -> list[str]:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = "Redis" if settings.REDIS_URL else "local memory (no REDIS_URL)"
    return [
        f"quaygate: database={engine}, cache/broker={cache}, require services={REQUIRE_SERVICES}"
    ]


# --- two-factor authentication (issue 16) ---------------------------------------------------


def _enrol_app(user: User):
    """A confirmed authenticator app for `user` through the real services; its pyotp TOTP."""
    import base64

    import pyotp

    from tokens.actors import Actor
    from twofactor import services as two_factor

    device = two_factor.start_totp_enrolment(user)
    app = pyotp.TOTP(base64.b32encode(device.bin_key).decode())
    two_factor.confirm_totp(device, code=app.now(), actor=Actor.for_user(user))
    user.refresh_from_db()
    return app


@pytest.fixture
def enrol():
    """enrol(user) -> the pyotp.TOTP of a confirmed authenticator app of `user`. The code that
    confirmed it is spent (no replay): use `next_code(app)` for the next check."""
    return _enrol_app


@pytest.fixture
def next_code():
    """next_code(app): the code of the next 30-second step, which the app's tolerance accepts
    and which no earlier check of the test has used."""
    return lambda app: app.at(time.time() + 30)
