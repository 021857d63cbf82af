"""The shared cache (real Redis): zero queries per request, and revocation seen at once by
every process."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from core import hotredis
from telemetry import usage
from telemetry.models import UsageRecord
from tests.conftest import require
from tests.support.worker import ROOT, database_url_for_test_db, wait_for
from tests.tokens.conftest import bearer
from tokens import cache as token_cache
from tokens import leases, services
from tokens.actors import Actor

pytestmark = [pytest.mark.urls("tests.tokens.urls")]
PROBE = "/api/v1/probe"


def get(client, secret):
    return client.get(PROBE, **bearer(secret))


def test_a_cached_token_costs_no_query_end_to_end(
    client, issued, redis_cache, django_assert_num_queries, settings
):
    key = f"test:usage:{os.getpid()}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    assert get(client, issued.secret).status_code == 200  # loads, caches, records last use
    try:
        with django_assert_num_queries(0):
            for _ in range(3):
                assert get(client, issued.secret).status_code == 200
        usage.settle()  # Redis has answered the last XADD
        # The usage log went to the stream, not a query: one flush, one entry of 4 records.
        [(_, fields)] = redis_cache.xrange(key)
        assert len(usage.records_in(fields)) == 4
    finally:
        redis_cache.delete(key)


def test_the_cache_holds_state_not_secrets(client, issued, redis_cache):
    get(client, issued.secret)
    [key] = list(redis_cache.scan_iter(f"{token_cache.STATE_PREFIX}*"))
    stored = redis_cache.get(key).decode()
    assert issued.secret not in stored and issued.secret not in key.decode()
    assert key.decode() == token_cache.STATE_PREFIX + services.hash_secret(issued.secret)


def test_a_revocation_drops_the_cached_state_on_commit(
    client, issued, owner, redis_cache, django_capture_on_commit_callbacks
):
    assert get(client, issued.secret).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_token(issued.token, actor=Actor.for_user(owner), reason="done")
    assert get(client, issued.secret).status_code == 401


def test_a_state_read_before_a_change_cannot_be_cached_after_it(issued, redis_cache):
    secret_hash = services.hash_secret(issued.secret)
    stale = token_cache.lookup(secret_hash)  # nothing cached yet
    assert stale.state is None
    token_cache.forget([secret_hash])  # the change commits
    state = token_cache.TokenState(
        id=issued.token.id,
        owner_id=issued.token.owner_id,
        organization_id=issued.token.organization_id,
        name="stale",
        display_prefix=issued.token.display_prefix,
        scopes=("fleet:read",),
        terminal_ids=None,
        allowed_ips=(),
        expires_at=None,
        rate_limit_per_hour=10,
    )
    token_cache.remember(secret_hash, state)  # the slow request finishes
    assert token_cache.lookup(secret_hash).state is None


def test_redis_down_keeps_the_api_answering(client, issued, redis_cache, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = get(client, issued.secret)
    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == "4999"  # counted in the process meanwhile


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_revocation_by_another_process_is_seen_by_the_next_request(
    client, issue, owner, redis_cache, settings
):
    require(connection.vendor == "postgresql", "another process needs a shared database")
    issued = issue(owner, name="cross-process")
    assert get(client, issued.secret).status_code == 200
    assert redis_cache.exists(token_cache.STATE_PREFIX + services.hash_secret(issued.secret))

    env = os.environ | {"DATABASE_URL": database_url_for_test_db(), "REDIS_URL": settings.REDIS_URL}
    result = subprocess.run(
        [sys.executable, "manage.py", "revoke_token", str(issued.token.id), "--reason", "leak"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    assert get(client, issued.secret).status_code == 401


def test_a_usage_record_redis_refused_is_stored_directly_by_the_flush(
    client, issued, redis_cache, settings
):
    key = f"test:usage:{os.getpid()}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    redis_cache.set(key, "not a stream")  # every XADD to it is refused (WRONGTYPE)
    try:
        assert get(client, issued.secret).status_code == 200
        assert get(client, issued.secret).status_code == 200
        assert not UsageRecord.objects.exists()  # both only buffered
        # The flush (every 50 ms in a server; here by hand) sends both XADDs in one round
        # trip; Redis refuses them, and the flush stores them directly instead.
        assert usage.settle() == 2
        rows = list(UsageRecord.objects.values_list("token_id", "path", "status"))
        assert rows == [(issued.token.id, PROBE, 200)] * 2
    finally:
        redis_cache.delete(key)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_api_access_change_by_another_process_is_seen_by_the_next_request(
    client, issue, owner, org, redis_cache, settings
):
    """Issue 15: set_api_access forgets the organisation's cached states, as a revocation does."""
    require(connection.vendor == "postgresql", "another process needs a shared database")
    issued = issue(owner, name="cross-process access")
    assert get(client, issued.secret).status_code == 200
    assert redis_cache.exists(token_cache.STATE_PREFIX + services.hash_secret(issued.secret))

    env = os.environ | {"DATABASE_URL": database_url_for_test_db(), "REDIS_URL": settings.REDIS_URL}
    code = (
        "from accounts.models import Organization; from tokens import services; "
        "from tokens.actors import Actor; "
        f"services.set_api_access(Organization.objects.get(pk={org.pk}), level='sandbox', "
        "actor=Actor.cli('test'), reason='trial only')"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    assert get(client, issued.secret).status_code == 403


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_approval_by_another_process_is_seen_by_the_next_request(
    client, issue, owner, org, org_admin, redis_cache, settings
):
    """Issue 17: a pending token's cached state says pending; approve_token in another process
    drops it, so the next request here gets 200 instead of 403 token_pending_approval."""
    require(connection.vendor == "postgresql", "another process needs a shared database")
    services.update_token_policy(org, actor=Actor.system(), require_approval="all")
    issued = issue(owner, name="cross-process approval", justification="SAP connector")
    response = get(client, issued.secret)
    assert response.status_code == 403 and response.json()["code"] == "token_pending_approval"
    assert redis_cache.exists(token_cache.STATE_PREFIX + services.hash_secret(issued.secret))

    env = os.environ | {"DATABASE_URL": database_url_for_test_db(), "REDIS_URL": settings.REDIS_URL}
    code = (
        "from accounts.models import User; from tokens import services; "
        "from tokens.actors import Actor; from tokens.models import PersonalAccessToken; "
        f"services.approve_token(PersonalAccessToken.objects.get(pk={issued.token.pk}), "
        f"actor=Actor.for_user(User.objects.get(pk={org_admin.pk})), note='ok')"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    assert get(client, issued.secret).status_code == 200


class Monitor:
    """Every command Redis runs that names `needle`, from any client (Redis MONITOR)."""

    def __init__(self, client, needle: str) -> None:
        self.needle, self.commands = needle, []
        self._monitor = client.monitor()
        self._connection = self._monitor.__enter__()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._connection.listen():
                if self.needle in event["command"]:
                    self.commands.append(event["command"])
        except Exception:  # closed by stop()
            return

    def stop(self, client, marker: str) -> list[str]:
        client.echo(marker)  # MONITOR is ordered: once the marker is seen, all before it is
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(marker in c for c in self.commands):
            time.sleep(0.01)
        self._connection.connection.disconnect()
        return [c for c in self.commands if marker not in c]


def test_a_token_this_process_has_seen_costs_no_redis_round_trip(
    client, issued, redis_cache, settings
):
    secret_hash = services.hash_secret(issued.secret)
    for _ in range(3):  # loads (and caches), then finds it in Redis and keeps it in memory
        assert get(client, issued.secret).status_code == 200
    monitor = Monitor(redis_cache, secret_hash)
    # Memory is trusted for TRUST_SECONDS after an answered PING: a loaded host can take that
    # long to start the monitor, and a process idle that long rightly asks Redis once. The
    # listener's PING names no token, so waiting for trust here is not hidden from the check.
    assert wait_for(lambda: hotredis.poll(settings.REDIS_URL), timeout=5)
    for _ in range(30):
        response = get(client, issued.secret)
        assert response.status_code == 200
    commands = monitor.stop(redis_cache, f"{secret_hash}:end")
    assert commands == []  # no GET, no INCR, no SET: state, count and touch were all local
    # …and still counted exactly: 33 requests of the hour's 5,000.
    assert response["X-RateLimit-Remaining"] == str(5000 - 33)


def test_a_state_changed_in_redis_by_anyone_is_dropped_from_memory(
    client, issued, redis_cache, owner
):
    """What every other process sees of a revocation: only the tombstone's push."""
    secret_hash = services.hash_secret(issued.secret)
    for _ in range(3):
        assert get(client, issued.secret).status_code == 200
    # Revoked by "another process": the row changes and the tombstone is written, both
    # without this process's forget (which would drop its memory directly).
    issued.token.__class__.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    redis_cache.set(token_cache.STATE_PREFIX + secret_hash, token_cache.TOMBSTONE, ex=60)
    deadline = time.monotonic() + 2
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = get(client, issued.secret).status_code
    assert status == 401


def test_rate_limit_numbers_are_unique_across_processes(redis_cache, settings):
    """Leases: another process taking part of the hour leaves this one only the rest."""
    key = f"{token_cache.RATE_PREFIX}test-lease:{os.getpid()}"
    url = settings.REDIS_URL
    leases.clear()
    try:
        numbers = [leases.take(url, key, limit=100, window_start=1) for _ in range(3)]
        redis_cache.incrby(key, 50)  # another process leased 50 numbers meanwhile
        while numbers[-1] <= 100:
            numbers.append(leases.take(url, key, limit=100, window_start=1))
        accepted = [n for n in numbers if n <= 100]
        assert len(set(accepted)) == len(accepted)  # no number handed out twice
        assert len(accepted) + 50 <= 100  # the hour's limit holds across both
        assert len(accepted) >= 100 - 50 - 16  # and little is lost to unused leases
        before = int(redis_cache.get(key))
        for _ in range(20):  # past the limit: refused without asking Redis again
            assert leases.take(url, key, limit=100, window_start=1) > 100
        assert int(redis_cache.get(key)) == before
    finally:
        redis_cache.delete(key)
        leases.clear()
