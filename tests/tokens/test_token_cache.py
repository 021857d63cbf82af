"""The shared cache (real Redis): zero queries per request, and revocation seen at once by
every process."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from telemetry import usage
from telemetry.models import UsageRecord
from tests.conftest import require
from tests.support.worker import ROOT, database_url_for_test_db
from tests.tokens.conftest import bearer
from tokens import cache as token_cache
from tokens import services
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
        assert redis_cache.xlen(key) == 4  # the usage log went to the stream, not a query
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


def test_a_usage_record_redis_refused_is_stored_by_the_next_request(
    client, issued, redis_cache, settings
):
    key = f"test:usage:{os.getpid()}"
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_STREAM_KEY": key}
    redis_cache.set(key, "not a stream")  # every XADD to it is refused (WRONGTYPE)
    try:
        assert get(client, issued.secret).status_code == 200
        assert not UsageRecord.objects.exists()  # its XADD's answer is not read yet
        # The next request's token-cache round trip reads the refusal; its usage record step
        # stores the refused record directly, then writes its own XADD.
        assert get(client, issued.secret).status_code == 200
        [row] = UsageRecord.objects.all()
        assert (row.token_id, row.path, row.status) == (issued.token.id, PROBE, 200)
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
