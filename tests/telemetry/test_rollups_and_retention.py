from datetime import timedelta

from django.utils import timezone

from telemetry.models import TokenSighting, UsageHourly, UsageRecord
from telemetry.rollups import purge_old_usage, roll_up_hours
from tests.telemetry.factories import batch_over, learn, log, usage


def test_an_hour_is_rolled_up_by_status_class_ips_and_countries(token):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows = log(
        usage(token, at=hour + timedelta(minutes=1), status=200, ip="192.0.2.1", country="NL"),
        usage(token, at=hour + timedelta(minutes=2), status=201, ip="192.0.2.1", country="NL"),
        usage(token, at=hour + timedelta(minutes=3), status=304, ip="192.0.2.2", country="BE"),
        usage(token, at=hour + timedelta(minutes=4), status=403, ip="192.0.2.3", country=""),
        usage(token, at=hour + timedelta(minutes=5), status=503, ip="192.0.2.3", country="NL"),
        usage(token, at=hour + timedelta(hours=1), status=200),
    )

    roll_up_hours(batch_over(rows))

    first = UsageHourly.objects.get(token=token, hour=hour)
    assert (first.requests, first.status_2xx, first.status_3xx) == (5, 2, 1)
    assert (first.status_4xx, first.status_5xx, first.distinct_ips) == (1, 1, 3)
    assert sorted(first.countries) == ["BE", "NL"]
    assert first.organization_id == token.organization_id
    assert UsageHourly.objects.get(token=token, hour=hour + timedelta(hours=1)).requests == 1


def test_a_later_pass_recomputes_the_hour_instead_of_adding_twice(token):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    learn(log(usage(token, at=hour, ip="192.0.2.1"), usage(token, at=hour, ip="192.0.2.2")))
    roll_up_hours(batch_over(log(usage(token, at=hour + timedelta(minutes=9), ip="192.0.2.1"))))

    rolled = UsageHourly.objects.get(token=token, hour=hour)
    assert (rolled.requests, rolled.distinct_ips) == (3, 2)


def test_failed_authentications_without_a_token_are_not_rolled_up(db):
    rows = log(usage(None, status=401, auth_failure="unknown_token"))
    roll_up_hours(batch_over(rows))
    assert not UsageHourly.objects.exists()


def test_retention_deletes_old_rows_in_batches_and_keeps_recent_ones(token, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_RETENTION_DAYS": 30}
    now = timezone.now()
    old = log(*[usage(token, at=now - timedelta(days=31, minutes=i)) for i in range(5)])
    learn(old)
    recent = log(usage(token, at=now - timedelta(days=29)))

    deleted = purge_old_usage(now=now, batch_size=2)

    assert deleted == 5
    assert list(UsageRecord.objects.values_list("id", flat=True)) == [recent[0].id]
    assert not TokenSighting.objects.exists()  # forgotten with the rows
    assert UsageHourly.objects.exists()  # roll-ups live longer


def test_retention_uses_the_default_of_90_days(token):
    now = timezone.now()
    log(usage(token, at=now - timedelta(days=89)), usage(token, at=now - timedelta(days=91)))
    assert purge_old_usage(now=now) == 1
