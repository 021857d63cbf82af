"""The detection pass: findings recorded once, emails and audit events, auto-revoke, watermarks."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from notifications.models import Notification
from telemetry.detection import USAGE_WATERMARK, run_detection
from telemetry.models import Anomaly, DetectionWatermark, UsageRecord
from telemetry.services import (
    AnomalyStateError,
    acknowledge_anomaly,
    resolve_anomaly,
)
from telemetry.tasks import detect_anomalies_task
from tests.telemetry.factories import log, make_token, usage
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, TokenPolicy

Rule = Anomaly.Rule


def travel(token, now, *, countries=("NL", "AU")):
    """Two uses of the token, minutes apart, from opposite sides of the world.

    (Also a new country, AU: each test looks at the rule it is about.)
    """
    return log(
        usage(token, at=now - timedelta(minutes=10), country=countries[0]),
        usage(token, at=now - timedelta(minutes=5), country=countries[1]),
    )


def detect(**kwargs):
    return run_detection(lag_seconds=0, **kwargs)


def travels(result) -> list[Anomaly]:
    return [a for a in result.created if a.rule == Rule.IMPOSSIBLE_TRAVEL]


def test_a_finding_becomes_an_anomaly_with_an_audit_event_and_emails(token, org_admin):
    travel(token, timezone.now())

    result = detect()

    [anomaly] = travels(result)
    assert (anomaly.rule, anomaly.token_id, anomaly.state) == (
        Rule.IMPOSSIBLE_TRAVEL,
        token.id,
        Anomaly.State.OPEN,
    )
    assert anomaly.organization_id == token.organization_id
    event = AuditEvent.objects.get(
        action=AuditEvent.Action.ANOMALY_FOUND, details__anomaly_id=anomaly.id
    )
    assert event.token_id == token.id
    assert event.actor_kind == AuditEvent.ActorKind.SYSTEM
    emailed = Notification.objects.filter(
        kind="anomaly", dedup_key__startswith=f"anomaly:{anomaly.id}:"
    )
    assert set(emailed.values_list("user_id", flat=True)) == {token.owner_id, org_admin.id}
    assert len(result.created) == AuditEvent.objects.filter(action="anomaly.found").count()


def test_running_twice_finds_nothing_new(token):
    travel(token, timezone.now())
    first = detect()
    assert len(travels(first)) == 1
    mails = Notification.objects.filter(kind="anomaly").count()

    again = detect()

    assert again.created == [] and again.batches == 0
    assert Anomaly.objects.count() == len(first.created)
    assert Notification.objects.filter(kind="anomaly").count() == mails


def test_only_rows_after_the_watermark_are_read(token):
    now = timezone.now()
    travel(token, now - timedelta(minutes=30))
    detect()
    watermark = DetectionWatermark.objects.get(name=USAGE_WATERMARK).last_id
    newer = log(usage(token, at=now, country="AU"))

    result = detect()

    assert result.rows_to_id == newer[0].id > watermark


def test_the_same_behaviour_later_in_the_window_updates_the_open_finding(token):
    now = timezone.now()
    travel(token, now - timedelta(minutes=40))
    detect()
    travel(token, now)

    found = AuditEvent.objects.filter(action=AuditEvent.Action.ANOMALY_FOUND).count()

    result = detect()

    assert result.created == []
    anomaly = Anomaly.objects.get(rule=Rule.IMPOSSIBLE_TRAVEL)
    assert anomaly.last_seen >= now - timedelta(minutes=5)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ANOMALY_FOUND).count() == found


def test_a_resolved_finding_is_not_raised_again_in_the_same_window(token, owner):
    now = timezone.now()
    travel(token, now - timedelta(minutes=40))
    [anomaly] = travels(detect())
    resolve_anomaly(anomaly, actor=Actor.for_user(owner))
    travel(token, now)

    assert detect().created == []
    assert Anomaly.objects.filter(rule=Rule.IMPOSSIBLE_TRAVEL).count() == 1


def test_one_open_finding_per_rule_token_subject_and_window_even_without_a_token(db):
    fields = {"rule": Rule.FAILED_AUTH_BURST, "severity": "medium", "subject": "ip:1.2.3.4"}
    Anomaly.objects.create(window="2026-11-24T10", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Anomaly.objects.create(window="2026-11-24T10", **fields)
    Anomaly.objects.create(window="2026-11-24T11", **fields)  # another window is another finding


def test_rows_inserted_within_the_safety_lag_wait_for_the_next_pass(token, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_COMMIT_LAG_SECONDS": 120}
    now = timezone.now()
    log(
        usage(token, at=now - timedelta(minutes=2), country="NL", inserted_at=now),
        usage(token, at=now - timedelta(minutes=1), country="AU", inserted_at=now),
    )

    assert run_detection(now=now).batches == 0
    assert DetectionWatermark.objects.get(name=USAGE_WATERMARK).last_id == 0
    with time_machine.travel(now + timedelta(minutes=3)):
        assert len(travels(run_detection())) == 1


def test_a_high_severity_finding_revokes_the_token_when_the_policy_says_so(token, org):
    TokenPolicy.objects.create(organization=org, auto_revoke_on_high_severity=True)
    travel(token, timezone.now())

    result = detect()

    assert result.revoked == 1
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by_kind == PersonalAccessToken.RevokedBy.ANOMALY


def test_a_sandbox_tokens_high_severity_finding_is_reported_but_never_revokes(token, org):
    TokenPolicy.objects.create(organization=org, auto_revoke_on_high_severity=True)
    PersonalAccessToken.objects.filter(pk=token.pk).update(kind=PersonalAccessToken.Kind.SANDBOX)
    travel(token, timezone.now())

    result = detect()

    assert result.revoked == 0
    [anomaly] = travels(result)
    assert anomaly.severity == Anomaly.Severity.HIGH and anomaly.token_id == token.pk
    token.refresh_from_db()
    assert token.revoked_at is None


def test_without_the_policy_a_high_severity_finding_does_not_revoke(token, org):
    TokenPolicy.objects.create(organization=org, auto_revoke_on_high_severity=False)
    travel(token, timezone.now())

    assert detect().revoked == 0
    token.refresh_from_db()
    assert token.revoked_at is None


def test_medium_findings_never_revoke(token, org):
    TokenPolicy.objects.create(organization=org, auto_revoke_on_high_severity=True)
    now = timezone.now()
    log(usage(token, at=now - timedelta(days=3), country="NL"))
    log(usage(token, at=now - timedelta(minutes=1), country="AU"))  # new country, plausible travel

    result = detect()

    assert [a.rule for a in result.created] == [Rule.NEW_COUNTRY]
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_new_ip_emails_only_an_owner_who_opted_in(owner, org, org_admin):
    quiet = make_token(owner, org)
    loud = make_token(owner, org, notify_on_new_ip=True)
    now = timezone.now()
    log(
        usage(quiet, at=now - timedelta(days=1)),
        usage(loud, at=now - timedelta(days=1)),
    )
    detect()
    log(usage(quiet, at=now, ip="192.0.2.77"), usage(loud, at=now, ip="192.0.2.77"))

    created = detect().created

    assert sorted(a.token_id for a in created if a.rule == Rule.NEW_IP) == [quiet.id, loud.id]
    [loud_finding] = [a for a in created if a.token_id == loud.id]
    mails = Notification.objects.filter(kind="anomaly")
    assert [(m.user_id, m.dedup_key) for m in mails] == [
        (owner.id, f"anomaly:{loud_finding.id}:{owner.id}")
    ]


def test_findings_from_the_audit_log_are_detected_incrementally(token):
    AuditEvent.objects.create(
        action=AuditEvent.Action.OLD_SECRET_USED,
        actor_kind=AuditEvent.ActorKind.ANONYMOUS,
        token=token,
    )

    assert [a.rule for a in detect().created] == [Rule.OLD_SECRET_REUSED]
    assert detect().created == []


def test_acknowledge_then_resolve_writes_audit_events(token, owner):
    travel(token, timezone.now())
    [anomaly] = travels(detect())

    acknowledge_anomaly(anomaly, actor=Actor.for_user(owner), note="looking")
    resolve_anomaly(anomaly, actor=Actor.for_user(owner))

    anomaly.refresh_from_db()
    assert anomaly.state == Anomaly.State.RESOLVED
    assert anomaly.state_changed_at is not None
    updates = AuditEvent.objects.filter(action=AuditEvent.Action.ANOMALY_UPDATED).order_by("id")
    assert [(e.details["from"], e.details["to"]) for e in updates] == [
        ("open", "acknowledged"),
        ("acknowledged", "resolved"),
    ]


def test_a_resolved_finding_cannot_be_acknowledged(token, owner):
    travel(token, timezone.now())
    [anomaly] = travels(detect())
    resolve_anomaly(anomaly, actor=Actor.for_user(owner))

    with pytest.raises(AnomalyStateError):
        acknowledge_anomaly(anomaly, actor=Actor.for_user(owner))


def test_the_beat_task_runs_the_pass(token, settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "USAGE_COMMIT_LAG_SECONDS": 0}
    travel(token, timezone.now())
    assert detect_anomalies_task.delay().get() == 2  # impossible travel and a new country
    assert Anomaly.objects.filter(rule=Rule.IMPOSSIBLE_TRAVEL).exists()


def test_the_pass_aggregates_in_the_database(token, django_assert_max_num_queries):
    now = timezone.now()
    log(*[usage(token, at=now - timedelta(seconds=i)) for i in range(300)])
    # A fixed number of queries however many rows: nothing is fetched row by row.
    with django_assert_max_num_queries(40):
        detect()


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_skips_the_pass_while_the_first_holds_the_lock(owner, org):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    import psycopg

    from tests.support.worker import database_url_for_test_db

    token = make_token(owner, org)
    travel(token, timezone.now())
    DetectionWatermark.objects.get_or_create(name=USAGE_WATERMARK)
    with psycopg.connect(database_url_for_test_db()) as other:
        other.execute(
            "SELECT id FROM telemetry_detectionwatermark WHERE name = %s FOR UPDATE",
            [USAGE_WATERMARK],
        )
        assert detect().busy is True
        assert not Anomaly.objects.exists()
    assert len(travels(detect())) == 1
    assert UsageRecord.objects.count() == 2


def test_the_command_runs_a_full_pass_and_says_how_long_it_took(token):
    from io import StringIO

    from django.core.management import call_command

    travel(token, timezone.now())
    detect()
    out = StringIO()

    call_command("run_detection", "--full", "--forget-sightings", "--lag-seconds", "0", stdout=out)

    assert "in 1 batches" in out.getvalue()
    assert " s" in out.getvalue()
    assert Anomaly.objects.filter(rule=Rule.IMPOSSIBLE_TRAVEL).count() == 1  # deduplicated
