"""Sending to a real HTTP receiver on loopback: signatures it verifies with the documented
code, retries, 410, other 4xx, redirects, a receiver that hangs or answers 10 MB, rotation,
the lease, resend, and the endpoint disabled after three days of failures."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from tests.support.receiver import free_port, verify_quaygate_signature
from tokens.actors import Actor
from tokens.models import AuditEvent
from webhooks import services
from webhooks.delivery import claim, deliver, sweep
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """send(endpoint) -> the test event's delivery, after the (eager) task has run."""

    def run(endpoint) -> WebhookDelivery:
        with django_capture_on_commit_callbacks(execute=True):
            delivery = services.send_test_event(endpoint, actor=Actor.system())
        delivery.refresh_from_db()
        return delivery

    return run


@pytest.fixture
def fast_timeout(settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "WEBHOOK_TIMEOUT_SECONDS": 2}


def test_a_delivery_is_signed_and_verified_by_the_receiver(hooked, send):
    endpoint, receiver = hooked
    delivery = send(endpoint)
    assert delivery.state == "delivered" and delivery.attempts == 1
    assert delivery.response_status == 204 and delivery.response_ms is not None
    [request] = receiver.requests
    assert request["verified"]
    assert request["headers"]["Quaygate-Delivery"] == str(delivery.uuid)
    assert request["headers"]["Quaygate-Event"] == "webhook.test"
    assert request["json"]["id"] == delivery.event.public_id
    assert request["json"]["type"] == "webhook.test"
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


def test_a_wrong_secret_is_caught_by_the_receiver(hooked, send):
    endpoint, receiver = hooked
    receiver.secret = "whsec_not-the-one"
    delivery = send(endpoint)
    assert receiver.requests and not receiver.requests[0]["verified"]
    assert delivery.state == "failed" and delivery.response_status == 401


def test_a_5xx_is_retried_later_and_shows_the_response(hooked, send):
    endpoint, receiver = hooked
    receiver.mode = 503
    delivery = send(endpoint)
    assert delivery.state == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert delivery.response_status == 503 and delivery.response_body == "thanks"
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None


def test_a_receiver_that_is_down_is_retried(org, make_endpoint, send):
    endpoint, _ = make_endpoint(org, f"http://127.0.0.1:{free_port()}/hook")
    delivery = send(endpoint)
    assert delivery.state == "pending" and delivery.response_status is None
    assert "Connect" in delivery.last_error


def test_410_disables_the_endpoint_and_emails_its_admins(hooked, send, org_admin):
    endpoint, receiver = hooked
    receiver.mode = 410
    delivery = send(endpoint)
    assert delivery.state == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "410" in endpoint.disabled_reason
    notice = Notification.objects.get(kind="webhook_disabled")
    assert notice.to_email == org_admin.email and endpoint.url in notice.body_text
    assert AuditEvent.objects.filter(action="webhook.disabled").exists()


def test_another_4xx_fails_that_delivery_only(hooked, send):
    endpoint, receiver = hooked
    receiver.mode = 404
    assert send(endpoint).state == "failed"
    endpoint.refresh_from_db()
    assert endpoint.is_enabled


def test_a_redirect_is_not_followed(hooked, send):
    endpoint, receiver = hooked
    receiver.mode = "redirect"
    delivery = send(endpoint)
    assert delivery.state == "failed" and delivery.response_status == 302
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_a_receiver_that_hangs_fails_within_the_timeout(hooked, send, fast_timeout):
    endpoint, receiver = hooked
    receiver.mode = "hang"
    started = time.monotonic()
    delivery = send(endpoint)
    assert time.monotonic() - started < 5
    assert delivery.state == "pending"  # a timeout is retried
    assert "No response within 2 s" in delivery.last_error


def test_a_10_mb_response_is_not_read_and_fails(hooked, send, fast_timeout):
    endpoint, receiver = hooked
    receiver.mode = "big"
    started = time.monotonic()
    delivery = send(endpoint)
    assert time.monotonic() - started < 5
    assert delivery.state == "failed" and "larger than 64 KB" in delivery.last_error
    assert len(delivery.response_body) == 1024


def test_after_a_rotation_both_secrets_sign_for_24_hours(hooked, send, time_machine):
    endpoint, receiver = hooked
    old = receiver.secret
    new = services.rotate_secret(endpoint, actor=Actor.system())
    send(endpoint)
    request = receiver.requests[-1]
    assert request["signature"].count("v1=") == 2
    verify = verify_quaygate_signature
    assert verify(request["body"], request["signature"], old)
    assert verify(request["body"], request["signature"], new)
    time_machine.move_to(timezone.now() + timedelta(hours=24, minutes=1), tick=True)
    endpoint.refresh_from_db()
    receiver.secret = new
    send(endpoint)
    late = receiver.requests[-1]
    assert late["signature"].count("v1=") == 1
    assert not verify(late["body"], late["signature"], old)
    assert AuditEvent.objects.filter(action="webhook.secret_rotated").exists()


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(hooked, time_machine):
    endpoint, _ = hooked
    delivery = services.send_test_event(endpoint, actor=Actor.system())  # not sent: no commit
    assert claim(delivery.id) is not None
    assert claim(delivery.id) is None
    assert delivery.id not in sweep()
    time_machine.move_to(timezone.now() + timedelta(seconds=61))
    assert delivery.id in sweep()  # the worker died: its lease ran out; sent again (eager)
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 2


def test_a_finished_delivery_can_be_resent_with_the_same_ids(
    hooked, send, django_capture_on_commit_callbacks
):
    endpoint, receiver = hooked
    delivery = send(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.resend_delivery(delivery)
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 2
    first, second = receiver.requests
    assert first["json"]["id"] == second["json"]["id"]
    assert first["headers"]["Quaygate-Delivery"] == second["headers"]["Quaygate-Delivery"]
    assert receiver.accepted == {first["json"]["id"]: 2}


def test_an_endpoint_failing_for_three_days_is_disabled(hooked, send, time_machine, org_admin):
    endpoint, receiver = hooked
    receiver.mode = 500
    send(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_enabled
    time_machine.move_to(timezone.now() + timedelta(days=3, minutes=1), tick=True)
    send(endpoint)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "3 days" in endpoint.disabled_reason
    assert Notification.objects.filter(kind="webhook_disabled", to_email=org_admin.email).exists()
    assert not WebhookDelivery.objects.filter(endpoint=endpoint, state="pending").exists()


def test_a_delivery_of_a_disabled_endpoint_is_not_sent(hooked):
    endpoint, receiver = hooked
    delivery = services.send_test_event(endpoint, actor=Actor.system())
    WebhookEndpoint.objects.filter(id=endpoint.id).update(disabled_at=timezone.now())
    assert deliver(delivery.id).outcome == "failed"
    assert receiver.requests == []


def test_retries_stop_after_24_hours(hooked, send, time_machine):
    endpoint, receiver = hooked
    receiver.mode = 503
    delivery = send(endpoint)
    time_machine.move_to(timezone.now() + timedelta(hours=23, minutes=59, seconds=50), tick=True)
    assert deliver(delivery.id).outcome == "failed"
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == 2


def test_a_receiver_gets_what_it_answered_in_the_list(hooked, send):
    endpoint, receiver = hooked
    receiver.mode = 200
    assert send(endpoint).response_body == "thanks"


def test_a_delivery_whose_worker_keeps_dying_fails_when_its_window_closes(hooked, time_machine):
    endpoint, receiver = hooked
    delivery = services.send_test_event(endpoint, actor=Actor.system())
    assert claim(delivery.id) is not None  # and the worker dies
    time_machine.move_to(timezone.now() + timedelta(hours=24, minutes=5))
    assert delivery.id not in sweep()
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "worker was lost" in delivery.last_error
    assert receiver.requests == [] or all(
        r["json"]["id"] != delivery.event.public_id for r in receiver.requests
    )
