"""The organisation's webhook pages: who may see them, adding an endpoint (the secret shown
once), bad URLs as form errors, rotating, testing, resending, disabling, deleting, and the
query counts of the lists."""

import ipaddress

import pytest
from django.urls import reverse

from accounts.models import Membership
from tests.conftest import make_user
from tests.support.receiver import Receiver
from tokens.actors import Actor
from tokens.models import AuditEvent
from webhooks import services, urlcheck
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with Receiver() as started:
        yield started


@pytest.fixture
def endpoint(org, org_admin, receiver):
    made, receiver.secret = services.create_endpoint(
        org, url=receiver.url, event_types=["token.revoked"], actor=Actor.for_user(org_admin)
    )
    return made


@pytest.fixture
def admin_client(client, sign_in, org_admin):
    return sign_in(client, org_admin)


def pages(org, endpoint) -> list[tuple[str, str]]:
    slug, pk = org.slug, endpoint.id
    return [
        ("get", reverse("org_webhooks", args=[slug])),
        ("get", reverse("org_webhook_new", args=[slug])),
        ("get", reverse("org_webhook", args=[slug, pk])),
        ("get", reverse("org_webhook_rotate", args=[slug, pk])),
        ("post", reverse("org_webhook_toggle", args=[slug, pk])),
        ("post", reverse("org_webhook_delete", args=[slug, pk])),
        ("post", reverse("org_webhook_test", args=[slug, pk])),
    ]


def test_anonymous_people_are_sent_to_sign_in(client, org, endpoint):
    for method, url in pages(org, endpoint):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_member_who_is_not_an_admin_gets_403(client, sign_in, member, org, endpoint):
    sign_in(client, member)
    for method, url in pages(org, endpoint):
        assert getattr(client, method)(url).status_code == 403, url
    assert WebhookEndpoint.objects.filter(id=endpoint.id, disabled_at__isnull=True).exists()


def test_someone_outside_the_organisation_gets_404(client, sign_in, outsider, org, endpoint):
    sign_in(client, outsider)
    for method, url in pages(org, endpoint):
        assert getattr(client, method)(url).status_code == 404, url


def test_an_admin_of_another_organisation_cannot_reach_this_one_s_endpoint(
    client, sign_in, other_org, endpoint
):
    admin = make_user("boss@antwerp.example", other_org, Membership.Role.ADMIN)
    sign_in(client, admin)
    url = reverse("org_webhook", args=[other_org.slug, endpoint.id])
    assert client.get(url).status_code == 404
    assert (
        client.post(reverse("org_webhook_delete", args=[other_org.slug, endpoint.id])).status_code
        == 404
    )
    assert WebhookEndpoint.objects.filter(id=endpoint.id).exists()


def test_adding_an_endpoint_shows_its_secret_once(admin_client, org, receiver):
    response = admin_client.post(
        reverse("org_webhook_new", args=[org.slug]),
        {"url": receiver.url, "description": "SIEM", "event_types": ["token.revoked", "member.*"]},
    )
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    endpoint = WebhookEndpoint.objects.get(organization=org, description="SIEM")
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert endpoint.event_types == ["token.revoked", "member.*"]
    assert secret not in endpoint.secret_encrypted  # stored encrypted
    detail = admin_client.get(reverse("org_webhook", args=[org.slug, endpoint.id]))
    assert secret not in detail.content.decode()
    assert endpoint.secret_hint in detail.content.decode()
    assert AuditEvent.objects.filter(action="webhook.created", organization=org).exists()


def test_adding_and_rotating_need_a_fresh_password(client, sign_in, org_admin, org, endpoint):
    sign_in(client, org_admin, fresh_password=False)
    for url in (
        reverse("org_webhook_new", args=[org.slug]),
        reverse("org_webhook_rotate", args=[org.slug, endpoint.id]),
    ):
        response = client.post(url, {"url": "https://x.example/"})
        assert response.status_code == 302 and reverse("sudo") in response["Location"]
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/", "Enter an https:// URL."),
        ("https://user:pw@hooks.example.com/", "Remove the user name and password"),
        ("https://internal.example.com/", "a private or reserved address"),
        ("https://metadata.example.com/", "a cloud metadata address"),
        ("https://hooks.example.com/" + "a" * 1975, "longer than 2000 characters"),
        ("http://hooks.example.com/", "Use https://"),
    ],
)
def test_a_bad_url_is_a_form_error(admin_client, org, monkeypatch, url, message):
    answers = {
        "hooks.example.com": "93.184.216.34",
        "internal.example.com": "10.0.0.8",
        "metadata.example.com": "169.254.169.254",
    }
    monkeypatch.setattr(
        urlcheck, "resolve", lambda host, port: [ipaddress.ip_address(answers[host])]
    )
    response = admin_client.post(
        reverse("org_webhook_new", args=[org.slug]), {"url": url, "event_types": ["audit.*"]}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_event_type_is_a_form_error(admin_client, org, receiver):
    response = admin_client.post(reverse("org_webhook_new", args=[org.slug]), {"url": receiver.url})
    assert response.status_code == 400
    assert "Choose at least one event type." in response.content.decode()


def test_editing_the_event_types(admin_client, org, endpoint):
    url = reverse("org_webhook", args=[org.slug, endpoint.id])
    response = admin_client.post(url, {"url": endpoint.url, "event_types": ["token.leaked"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["token.leaked"]
    assert AuditEvent.objects.filter(action="webhook.updated").exists()


def test_rotating_shows_the_new_secret_and_keeps_the_old_one_signing(admin_client, org, endpoint):
    old_hint = endpoint.secret_hint
    assert (
        admin_client.get(reverse("org_webhook_rotate", args=[org.slug, endpoint.id])).status_code
        == 200
    )
    response = admin_client.post(reverse("org_webhook_rotate", args=[org.slug, endpoint.id]))
    assert response.status_code == 200 and response.context["rotated"]
    endpoint.refresh_from_db()
    assert endpoint.secret_hint != old_hint and endpoint.has_previous_secret()
    detail = admin_client.get(reverse("org_webhook", args=[org.slug, endpoint.id])).content.decode()
    assert "the previous secret also signs until" in detail


def test_send_test_event_then_resend_from_the_deliveries_list(
    admin_client, org, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("org_webhook_test", args=[org.slug, endpoint.id]))
    assert response.status_code == 302
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    page = admin_client.get(reverse("org_webhook", args=[org.slug, endpoint.id])).content.decode()
    assert "webhook.test" in page and "HTTP 204" in page and delivery.event.public_id in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("org_webhook_resend", args=[org.slug, endpoint.id, delivery.id]))
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.state == "delivered"
    assert [r["verified"] for r in receiver.requests] == [True, True]


def test_disabling_enabling_and_deleting(admin_client, org, endpoint):
    toggle = reverse("org_webhook_toggle", args=[org.slug, endpoint.id])
    admin_client.post(toggle)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and "Disabled by" in endpoint.disabled_reason
    admin_client.post(toggle)
    endpoint.refresh_from_db()
    assert endpoint.is_enabled
    response = admin_client.post(reverse("org_webhook_delete", args=[org.slug, endpoint.id]))
    assert response.status_code == 302 and not WebhookEndpoint.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"webhook.disabled", "webhook.enabled", "webhook.deleted"} <= actions


def _deliveries(endpoint, count: int) -> None:
    for _ in range(count):
        services.send_test_event(endpoint, actor=Actor.system())


def test_the_deliveries_list_costs_the_same_queries_for_3_or_30(
    admin_client, org, endpoint, django_assert_num_queries
):
    url = reverse("org_webhook", args=[org.slug, endpoint.id])
    _deliveries(endpoint, 3)
    admin_client.get(url)
    # session, user, membership, endpoint, deliveries (event joined), messages none
    with django_assert_num_queries(5):
        assert admin_client.get(url).status_code == 200
    _deliveries(endpoint, 27)
    with django_assert_num_queries(5):
        assert admin_client.get(url).content.decode().count("webhook.test") >= 30


def test_the_endpoints_list_costs_the_same_queries_for_1_or_5(
    admin_client, org, org_admin, endpoint, receiver, django_assert_num_queries
):
    url = reverse("org_webhooks", args=[org.slug])
    admin_client.get(url)
    with django_assert_num_queries(4):
        assert admin_client.get(url).status_code == 200
    for n in range(4):
        services.create_endpoint(
            org, url=f"{receiver.url}/{n}", event_types=["audit.*"], actor=Actor.for_user(org_admin)
        )
    with django_assert_num_queries(4):
        assert admin_client.get(url).content.decode().count("/hook") >= 5
