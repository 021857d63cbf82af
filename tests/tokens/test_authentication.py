"""Verification on the partner API: costs, every rejection path, scopes and response headers."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Notification
from tests.tokens.conftest import bearer
from tokens import cache as token_cache
from tokens import format as token_format
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = [pytest.mark.urls("tests.tokens.urls"), pytest.mark.usefixtures("no_redis")]
PROBE = "/api/v1/probe"


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Every call into the token cache (a spy on our own module, to prove garbage skips it)."""
    calls: list[str] = []
    real = token_cache.lookup

    def spy(secret_hash, **kwargs):
        calls.append(secret_hash)
        return real(secret_hash, **kwargs)

    monkeypatch.setattr(token_cache, "lookup", spy)
    return calls


def get(client, secret, path=PROBE, **extra):
    return client.get(path, **bearer(secret), **extra)


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="quaygate", error="invalid_token"'


def test_a_valid_token_is_accepted(client, issued):
    response = get(client, issued.secret)
    assert response.status_code == 200
    assert response.json() == {"token": issued.token.id, "owner": issued.token.owner_id}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer qgp_short",
        "Bearer " + "x" * 40,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "qgp_" + "A" * 36,
    ],
)
@pytest.mark.usefixtures("without_usage_log")
def test_garbage_costs_no_query_and_no_cache_call(
    client, issued, header, django_assert_num_queries, lookups
):
    with django_assert_num_queries(0):
        response = client.get(PROBE, HTTP_AUTHORIZATION=header)
    assert_invalid_token(response)
    assert lookups == []


@pytest.mark.usefixtures("without_usage_log")
def test_a_flipped_character_costs_no_query(client, issued, django_assert_num_queries, lookups):
    secret = issued.secret
    flipped = secret[:10] + ("A" if secret[10] != "A" else "B") + secret[11:]
    with django_assert_num_queries(0):
        response = get(client, flipped)
    assert_invalid_token(response)
    assert lookups == []


@pytest.mark.usefixtures("without_usage_log")
def test_a_valid_uncached_token_costs_one_query(client, issued, django_assert_num_queries):
    get(client, issued.secret)  # the first use this minute also records last_used_at
    with django_assert_num_queries(1):
        assert get(client, issued.secret).status_code == 200


def test_no_header_asks_for_a_bearer_token(client):
    response = client.get(PROBE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="quaygate"'


def test_unknown_revoked_and_expired_tokens_get_the_same_answer(client, issue, owner):
    unknown = token_format.generate()
    revoked = issue(owner, name="revoked")
    services.revoke_token(revoked.token, actor=Actor.for_user(owner), reason="done")
    expired = issue(owner, name="expired", expires_at=timezone.now() + timedelta(hours=1))

    answers = [get(client, unknown), get(client, revoked.secret)]
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        answers.append(get(client, expired.secret))

    for response in answers:
        assert_invalid_token(response)
    # Word for word, but for the id of each request.
    bodies = [response.json() for response in answers]
    assert all(body.pop("request_id") for body in bodies)
    assert len({json.dumps(body, sort_keys=True) for body in bodies}) == 1


def test_a_rejection_of_a_real_token_is_audited_with_its_reason(client, issue, owner):
    revoked = issue(owner, name="revoked")
    services.revoke_token(revoked.token, actor=Actor.for_user(owner), reason="done")

    get(client, revoked.secret, REMOTE_ADDR="198.51.100.7")
    get(client, revoked.secret, REMOTE_ADDR="198.51.100.7")  # within the minute: not again

    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.AUTH_FAILED)
    assert event.token_id == revoked.token.id
    assert event.details == {"reason": "revoked"}
    assert event.token_prefix == revoked.token.display_prefix
    assert str(event.ip) == "198.51.100.7"


def test_an_unknown_token_is_audited_by_prefix_only(client, db):
    secret = token_format.generate()
    get(client, secret)
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.AUTH_FAILED)
    assert event.token_id is None
    assert event.token_prefix == secret[:8]
    assert secret not in str(event.details) + event.user_agent


def test_the_ip_allow_list_is_enforced(client, issue, owner):
    issued = issue(owner, allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    assert get(client, issued.secret, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert get(client, issued.secret, REMOTE_ADDR="2001:db8::5").status_code == 200
    assert_invalid_token(get(client, issued.secret, REMOTE_ADDR="198.51.100.1"))
    event = AuditEvent.objects.get(action=AuditEvent.Action.AUTH_FAILED)
    assert event.details == {"reason": "ip_not_allowed"}


def test_a_token_in_the_query_string_is_refused_and_recorded(client, issued):
    response = client.get(PROBE, {"access_token": issued.secret})
    assert response.status_code == 400
    assert "Authorization" in response.json()["detail"]
    assert issued.secret not in response.content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_IN_URL)
    assert event.token_id == issued.token.id
    assert issued.secret not in str(event.details)
    assert Notification.objects.filter(
        kind=Notification.Kind.TOKEN_IN_URL, user=issued.token.owner
    ).exists()


@pytest.mark.parametrize("param", ["token", "api_key", "apikey", "key", "Access_Token"])
def test_every_usual_query_parameter_for_tokens_is_refused(client, param, db):
    response = client.get(PROBE, {param: "anything"})
    assert response.status_code == 400
    assert not AuditEvent.objects.exists()  # not a real token: nothing to record


def test_a_token_in_the_query_string_is_refused_even_with_a_good_header(client, issued):
    response = get(client, issued.secret, path=f"{PROBE}?token=x")
    assert response.status_code == 400


def test_a_missing_scope_is_403_naming_the_scope(client, issue, owner):
    issued = issue(owner, scopes=["telemetry:read"])
    response = get(client, issued.secret)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="quaygate", error="insufficient_scope", scope="fleet:read"'
    )


def test_a_write_scope_implies_its_read(client, issue, owner):
    issued = issue(owner, scopes=["fleet:read", "alarms:write"])
    assert client.post(PROBE, **bearer(issued.secret)).status_code == 200
    reader = issue(owner, name="reader", scopes=["fleet:read", "alarms:read"])
    assert client.post(PROBE, **bearer(reader.secret)).status_code == 403


def test_every_authenticated_response_says_what_the_token_has(client, issue, owner):
    expires = timezone.now().replace(microsecond=0) + timedelta(days=10)
    issued = issue(owner, scopes=["fleet:read", "alarms:read"], expires_at=expires)
    response = get(client, issued.secret)
    assert response["X-Token-Scopes"] == "fleet:read, alarms:read"
    assert response["X-Token-Expires"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert response["X-RateLimit-Limit"] == "5000"
    assert response["X-RateLimit-Remaining"] == "4999"
    assert int(response["X-RateLimit-Reset"]) % 3600 == 0
    denied = get(client, issue(owner, name="t", scopes=["telemetry:read"]).secret)
    assert denied.status_code == 403 and denied["X-Token-Scopes"] == "telemetry:read"


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(client, issue, owner):
    issued = issue(owner, rate_limit_per_hour=2)
    assert [get(client, issued.secret).status_code for _ in range(2)] == [200, 200]
    response = get(client, issued.secret)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Limit"] == "2"


def test_the_organisation_default_rate_limit_applies(client, issue, owner, org):
    services.update_token_policy(org, actor=Actor.cli(), default_rate_limit_per_hour=1)
    issued = issue(owner)
    assert get(client, issued.secret).status_code == 200
    assert get(client, issued.secret).status_code == 429


def test_last_use_is_written_at_most_once_a_minute(client, issued):
    token = issued.token
    assert get(client, issued.secret, REMOTE_ADDR="192.0.2.1").status_code == 200
    first = PersonalAccessToken.objects.get(pk=token.pk)
    assert first.last_used_at is not None and first.last_used_ip == "192.0.2.1"

    get(client, issued.secret, REMOTE_ADDR="192.0.2.2")
    assert PersonalAccessToken.objects.get(pk=token.pk).last_used_at == first.last_used_at

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        get(client, issued.secret, REMOTE_ADDR="192.0.2.2")
        later = PersonalAccessToken.objects.get(pk=token.pk)
    assert later.last_used_at > first.last_used_at
    assert later.recent_ips == ["192.0.2.2", "192.0.2.1"]


def test_recent_ips_keep_the_last_five_distinct(client, issued):
    start = timezone.now()
    for minute, last in enumerate([1, 2, 3, 1, 4, 5, 6]):
        with time_machine.travel(start + timedelta(minutes=minute * 2)):
            get(client, issued.secret, REMOTE_ADDR=f"192.0.2.{last}")
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.recent_ips == [f"192.0.2.{n}" for n in (6, 5, 4, 1, 3)]


def test_regeneration_kills_the_old_secret_at_once(client, issued, owner):
    new = services.regenerate_token(issued.token, actor=Actor.for_user(owner))
    assert_invalid_token(get(client, issued.secret))
    assert get(client, new.secret).status_code == 200


def test_an_overlap_keeps_the_old_secret_then_records_its_use(client, issued, owner):
    new = services.regenerate_token(issued.token, actor=Actor.for_user(owner), overlap_hours=2)
    assert get(client, issued.secret).status_code == 200
    assert get(client, new.secret).status_code == 200
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.OLD_SECRET_USED).exists()

    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        assert_invalid_token(get(client, issued.secret))
        assert get(client, new.secret).status_code == 200

    event = AuditEvent.objects.get(action=AuditEvent.Action.OLD_SECRET_USED)
    assert event.token_id == issued.token.id


def test_the_usage_log_learns_why_a_request_was_refused(client, issue, owner):
    from telemetry.models import UsageRecord

    revoked = issue(owner, name="revoked")
    services.revoke_token(revoked.token, actor=Actor.for_user(owner), reason="done")
    get(client, revoked.secret)
    client.get(PROBE, HTTP_AUTHORIZATION="Bearer nonsense")

    rows = UsageRecord.objects.order_by("id")
    assert [(r.auth_failure, r.token_id) for r in rows] == [
        ("revoked", revoked.token.id),
        ("malformed", None),
    ]
