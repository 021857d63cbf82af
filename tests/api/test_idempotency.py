"""Idempotency-Key on the writes: a retry replays the first response instead of running again.

Forgetting the records after 24 hours is test_purge_idempotency_records."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from api import idempotency
from api.models import IdempotencyRecord
from fleet import services
from fleet.models import Alarm, MaintenanceRecord
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db

MAINTENANCE = "/api/v1/spreaders/EMX-001/maintenance"


def maintenance(**fields) -> dict:
    return {
        "performed_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "kind": "lubrication",
        "description": "Twistlocks greased.",
        **fields,
    }


def post(client, url, data=None, *, key: str | None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, data, format="json", headers=headers)


def acknowledge_url(alarm: Alarm) -> str:
    return f"/api/v1/alarms/{alarm.id}/acknowledge"


def test_a_retried_maintenance_log_creates_one_record_and_replays_the_first_answer(fleet, partner):
    data = maintenance()

    first = post(partner, MAINTENANCE, data, key="log-7f3a")
    retry = post(partner, MAINTENANCE, data, key="log-7f3a")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert MaintenanceRecord.objects.filter(spreader=fleet.emx_spreader).count() == 2  # 1 + ours
    assert retry["X-RateLimit-Remaining"]  # a replay is still an authenticated answer


def test_a_replay_is_the_stored_answer_not_a_new_one(fleet, partner):
    first = post(partner, acknowledge_url(fleet.emx_alarm), key="ack-1")
    Alarm.objects.filter(pk=fleet.emx_alarm.pk).update(cleared_at=timezone.now())

    retry = post(partner, acknowledge_url(fleet.emx_alarm), key="ack-1")
    fresh = post(partner, acknowledge_url(fleet.emx_alarm), key="ack-2")

    assert first.json()["state"] == "active"
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert fresh.json()["state"] == "cleared"
    assert "Idempotent-Replayed" not in fresh


def test_the_same_key_with_a_different_body_is_a_422(fleet, partner):
    post(partner, MAINTENANCE, maintenance(description="Greased."), key="k1")

    response = post(partner, MAINTENANCE, maintenance(description="Greased twice."), key="k1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert MaintenanceRecord.objects.filter(description__startswith="Greased").count() == 1


def test_the_same_key_on_another_path_is_a_422(fleet, partner):
    post(partner, acknowledge_url(fleet.emx_alarm), key="k1")

    response = post(partner, acknowledge_url(fleet.rwg_alarm), key="k1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Alarm.objects.get(pk=fleet.rwg_alarm.pk).acknowledged_at is None


def test_keys_belong_to_their_token(fleet, partner, client_for):
    other = client_for("maintenance:write")
    data = maintenance()

    first = post(partner, MAINTENANCE, data, key="shared-key")
    second = post(other, MAINTENANCE, data, key="shared-key")

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]
    assert IdempotencyRecord.objects.filter(key="shared-key").count() == 2


def test_a_duplicate_while_the_first_request_runs_is_a_409(fleet, partner, monkeypatch):
    """The duplicate arrives from inside the first request's write, before it has answered."""
    log_maintenance = services.log_maintenance
    duplicates = []

    def log_while_a_duplicate_arrives(*args, **kwargs):
        duplicates.append(post(partner, MAINTENANCE, data, key="slow"))
        return log_maintenance(*args, **kwargs)

    monkeypatch.setattr(services, "log_maintenance", log_while_a_duplicate_arrives)
    data = maintenance()

    first = post(partner, MAINTENANCE, data, key="slow")

    assert first.status_code == 201
    (duplicate,) = duplicates
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "idempotency_key_in_use"
    assert duplicate["Retry-After"] == "1"
    monkeypatch.setattr(services, "log_maintenance", log_maintenance)
    assert post(partner, MAINTENANCE, data, key="slow")["Idempotent-Replayed"] == "true"
    assert MaintenanceRecord.objects.filter(description="Twistlocks greased.").count() == 1


def test_an_error_stores_nothing_and_frees_the_key(fleet, partner):
    later = (timezone.now() + timedelta(hours=2)).isoformat()

    refused = post(partner, MAINTENANCE, maintenance(performed_at=later), key="fix-me")
    missing = post(partner, "/api/v1/spreaders/ANT-001/maintenance", maintenance(), key="fix-me")
    fixed = post(partner, MAINTENANCE, maintenance(), key="fix-me")

    assert refused.status_code == 400
    assert missing.status_code == 404
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed


def test_without_a_key_nothing_is_stored(fleet, partner):
    post(partner, MAINTENANCE, maintenance(), key=None)
    post(partner, acknowledge_url(fleet.emx_alarm), key=None)

    assert not IdempotencyRecord.objects.exists()


def test_the_stored_answer_is_the_one_sent(fleet, partner, issued):
    response = post(partner, acknowledge_url(fleet.emx_alarm), key="ack-1")

    record = IdempotencyRecord.objects.get()
    assert record.token_id == issued.token.id
    assert record.key == "ack-1"
    assert record.status == 200
    assert record.body == response.json()
    assert record.fingerprint.startswith(f"POST {acknowledge_url(fleet.emx_alarm)} ")


def test_rotation_with_a_key_never_stores_the_secret_and_refuses_a_retry(
    fleet, partner, issued, api_client, committed
):
    with committed():
        rotated = post(partner, "/api/v1/token/rotate", {"overlap_hours": 1}, key="rotate-1")
    new_secret = rotated.json()["token"]

    # The old secret still works in its overlap; the new one too. Neither gets the secret again.
    retry_old = post(partner, "/api/v1/token/rotate", {"overlap_hours": 1}, key="rotate-1")
    retry_new = post(
        api_client(new_secret), "/api/v1/token/rotate", {"overlap_hours": 1}, key="rotate-1"
    )

    assert rotated.status_code == 201
    for retry in (retry_old, retry_new):
        assert retry.status_code == 409
        assert retry.json()["code"] == "idempotency_key_used"
        assert "shown once" in retry.json()["detail"]
        assert new_secret not in retry.content.decode()
    record = IdempotencyRecord.objects.get()
    assert record.status == 201
    assert record.body is None
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.TOKEN_ROTATED, token=issued.token
        ).count()
        == 1
    )


def test_a_failed_rotation_frees_its_key(fleet, partner):
    refused = post(partner, "/api/v1/token/rotate", {"overlap_hours": 99}, key="rotate-1")
    rotated = post(partner, "/api/v1/token/rotate", {"overlap_hours": 1}, key="rotate-1")

    assert refused.status_code == 400
    assert rotated.status_code == 201
    assert rotated.json()["token"].startswith("qgp_")


@pytest.mark.parametrize(
    "key",
    ["", " leading-space", "trailing-space ", "tab\tinside", "x" * 256, "caf\u00e9"],
)
def test_a_malformed_key_is_a_400_naming_the_header(fleet, partner, key):
    response = post(partner, acknowledge_url(fleet.emx_alarm), key=key)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "Idempotency-Key"
    assert error["code"] == "invalid_idempotency_key"
    assert Alarm.objects.get(pk=fleet.emx_alarm.pk).acknowledged_at is None


@pytest.mark.parametrize("key", ["a", "x" * 255, "3f0c4a52-8d4e-4b7f-9a36-5d1b2c7e9f10", "a b~!"])
def test_keys_of_1_to_255_printable_characters_are_taken(fleet, partner, key):
    assert post(partner, acknowledge_url(fleet.emx_alarm), key=key).status_code == 200
    assert IdempotencyRecord.objects.get().key == key


def test_a_key_is_forgotten_after_24_hours(fleet, partner):
    data = maintenance()
    first = post(partner, MAINTENANCE, data, key="daily")
    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=59)):
        assert post(partner, MAINTENANCE, data, key="daily")["Idempotent-Replayed"] == "true"

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        later = post(partner, MAINTENANCE, data, key="daily")

    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later
    assert later.json()["id"] != first.json()["id"]


def test_an_abandoned_first_request_is_taken_over_after_five_minutes(fleet, partner, issued):
    body = b'{"performed_at": "2026-01-01T00:00:00Z"}'  # what the dead request sent
    fingerprint = idempotency.fingerprint(method="POST", path=MAINTENANCE, body=body)
    stuck = IdempotencyRecord.objects.create(
        token_id=issued.token.id,
        key="stuck",
        fingerprint=fingerprint,
        created_at=timezone.now() - timedelta(minutes=4),
    )
    retry = partner.post(
        MAINTENANCE, body, content_type="application/json", headers={"Idempotency-Key": "stuck"}
    )
    assert retry.status_code == 409
    assert retry.json()["code"] == "idempotency_key_in_use"

    stuck.created_at = timezone.now() - timedelta(minutes=6)
    stuck.save(update_fields=["created_at"])
    retry = partner.post(
        MAINTENANCE, body, content_type="application/json", headers={"Idempotency-Key": "stuck"}
    )

    assert retry.status_code == 400  # it ran (the body lacks fields), and freed the key
    assert not IdempotencyRecord.objects.exists()


def test_a_request_whose_key_was_taken_over_rolls_its_write_back(fleet, partner, monkeypatch):
    """It ran past the abandonment limit and a retry took the key: the retry's work counts."""
    log_maintenance = services.log_maintenance

    def log_then_lose_the_key(*args, **kwargs):
        record = log_maintenance(*args, **kwargs)
        IdempotencyRecord.objects.update(created_at=timezone.now() + timedelta(seconds=1))
        return record

    monkeypatch.setattr(services, "log_maintenance", log_then_lose_the_key)

    response = post(partner, MAINTENANCE, maintenance(), key="slow")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert not MaintenanceRecord.objects.filter(description="Twistlocks greased.").exists()
