from datetime import timedelta

from django.utils import timezone

from telemetry.models import Anomaly
from telemetry.selectors import anomalies_visible_to, hourly_usage, recent_requests, usage_totals
from tests.telemetry.factories import learn, log, make_token, usage


def finding(token):
    return Anomaly.objects.create(
        rule=Anomaly.Rule.NEW_IP,
        severity="low",
        token=token,
        organization_id=token.organization_id,
        window="2026-11-24",
    )


def test_members_see_findings_on_their_own_tokens_only(owner, member, org):
    mine, theirs = finding(make_token(owner, org)), finding(make_token(member, org))
    assert list(anomalies_visible_to(owner)) == [mine]
    assert list(anomalies_visible_to(member)) == [theirs]


def test_org_admins_see_their_organisations_findings_and_ops_see_all(
    owner, org_admin, outsider, other_org, ops_user, org
):
    ours = finding(make_token(owner, org))
    foreign = finding(make_token(outsider, other_org))
    assert list(anomalies_visible_to(org_admin)) == [ours]
    assert set(anomalies_visible_to(ops_user)) == {ours, foreign}
    assert list(anomalies_visible_to(outsider)) == [foreign]


def test_usage_reads_come_from_the_roll_ups_and_the_log(token):
    now = timezone.now()
    learn(log(usage(token, at=now - timedelta(hours=2)), usage(token, at=now, status=500)))

    assert sum(h.requests for h in hourly_usage(token)) == 2
    assert usage_totals(token) == {"requests": 2, "ok": 1, "client_errors": 0, "server_errors": 1}
    assert [r.status for r in recent_requests(token)] == [500, 200]


def test_recent_requests_look_in_the_last_day_then_the_week_then_everywhere(
    token, django_assert_num_queries
):
    now = timezone.now()
    token.created_at = now - timedelta(days=60)
    token.save(update_fields=["created_at"])
    rows = log(
        usage(token, at=now - timedelta(days=30)),
        usage(token, at=now - timedelta(days=3)),
        usage(token, at=now - timedelta(hours=1)),
    )
    newest_first = [row.id for row in reversed(rows)]

    with django_assert_num_queries(1):  # the last day had enough
        assert [r.id for r in recent_requests(token, limit=1, now=now)] == newest_first[:1]
    with django_assert_num_queries(2):  # the week
        assert [r.id for r in recent_requests(token, limit=2, now=now)] == newest_first[:2]
    with django_assert_num_queries(3):  # the whole log
        assert [r.id for r in recent_requests(token, limit=5, now=now)] == newest_first


def test_recent_requests_of_a_new_token_stop_at_its_creation(token, django_assert_num_queries):
    log(usage(token))
    with django_assert_num_queries(1):
        assert len(recent_requests(token)) == 1
