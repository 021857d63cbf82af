"""Only staff reach the ops console; others are sent to sign in and see nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.django_db

PAGES = [
    "admin:index",
    "admin:tokens_personalaccesstoken_changelist",
    "admin:tokens_auditevent_changelist",
    "admin:telemetry_usagerecord_changelist",
    "admin:telemetry_anomaly_changelist",
    "admin:notifications_notification_changelist",
    "admin:portal_organization_changelist",
    "admin:portal_user_changelist",
]


@pytest.fixture
def member_client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_a_non_staff_user_is_sent_to_sign_in(member_client, page):
    url = reverse(page)
    response = member_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_non_staff_user_cannot_revoke_by_posting_the_action(member_client, issue):
    token = issue()
    response = member_client.post(
        reverse("admin:tokens_personalaccesstoken_changelist"),
        {
            "action": "revoke_selected",
            "_selected_action": token.pk,
            "index": 0,
            "_confirm": "yes",
            "reason": "x",
        },
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not PersonalAccessToken.objects.filter(revoked_at__isnull=False).exists()


def test_a_non_staff_org_admin_cannot_sign_in_to_admin(org_admin):
    from tests.conftest import PASSWORD

    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": org_admin.email, "password": PASSWORD}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_staff_without_the_ops_group_sees_no_tokens(ops_user, issue):
    issue()
    client = Client()
    client.force_login(ops_user)
    assert client.get(reverse("admin:tokens_personalaccesstoken_changelist")).status_code == 403
    assert client.get(reverse("admin:tokens_auditevent_changelist")).status_code == 403


@pytest.mark.parametrize("page", PAGES[1:6])
def test_ops_see_the_pages_they_work_on(ops_client, page):
    assert ops_client.get(reverse(page)).status_code == 200


def test_ops_do_not_see_people(ops_client):
    assert ops_client.get(reverse("admin:portal_user_changelist")).status_code == 403
