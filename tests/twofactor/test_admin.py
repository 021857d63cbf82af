"""The ops console and 2FA: who has it, the reset with a reason (never a secret on the page),
and /admin/ needing a second factor in production, or in the embedded default once enrolled."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from notifications.models import Notification
from tests.conftest import PASSWORD
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    from tests.conftest import make_user

    return make_user("root@quaygate.example", is_staff=True, is_superuser=True)


@pytest.fixture
def ops(ops_user):
    ops_user.groups.add(Group.objects.get(name="Ops"))
    return ops_user


def _client(user, device=None) -> Client:
    client = Client()
    client.force_login(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def test_django_otp_device_pages_are_not_in_the_admin():
    assert not admin.site.is_registered(TOTPDevice)
    registered = {m._meta.label for m in admin.site._registry}
    assert (
        not {"otp_totp.TOTPDevice", "twofactor.PasskeyDevice", "twofactor.RecoveryCode"}
        & registered
    )


def test_ops_see_who_has_2fa_and_never_a_key(ops, owner, enrol):
    enrol(owner)
    client = _client(ops)
    assert client.get(reverse("admin:portal_user_changelist")).status_code == 403  # not people
    url = reverse("admin:twofactor_twofactoraccount_changelist")
    listing = client.get(url, {"two_factor_enabled__exact": "1"})
    assert listing.status_code == 200
    assert [person.email for person in listing.context["cl"].result_list] == [owner.email]
    change = reverse("admin:twofactor_twofactoraccount_change", args=[owner.pk])
    page = client.get(change).content.decode()
    assert "Two factor enabled" in page and "argon2" not in page  # no password hash either
    key = TOTPDevice.objects.get(user=owner).key
    assert key not in page and key.upper() not in page


def test_ops_reset_2fa_with_a_reason_audited_and_emailed(ops, owner, enrol):
    enrol(owner)
    client = _client(ops)
    url = reverse("admin:twofactor_twofactoraccount_changelist")
    data = {"action": "reset_two_factor_action", "_selected_action": [owner.pk], "index": 0}
    asked = client.post(url, data)
    assert asked.status_code == 200 and "Reset two-factor authentication" in asked.content.decode()
    assert TOTPDevice.objects.filter(user=owner).exists()
    done = client.post(url, {**data, "_confirm": "yes", "reason": "Lost phone, ticket 99"})
    assert done.status_code == 302
    owner.refresh_from_db()
    assert not owner.two_factor_enabled and not TOTPDevice.objects.filter(user=owner).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.TWO_FACTOR_DISABLED)
    assert event.actor_user == ops and event.details["reason"] == "Lost phone, ticket 99"
    assert Notification.objects.filter(
        kind=Notification.Kind.TWO_FACTOR_CHANGED, user=owner, body_text__contains="ticket 99"
    ).exists()


def test_staff_without_ops_rights_cannot_reset(ops_user, owner, enrol):
    enrol(owner)
    client = _client(ops_user)  # staff, but not in the Ops group
    url = reverse("admin:twofactor_twofactoraccount_changelist")
    assert client.get(url).status_code == 403
    client.post(
        url,
        {
            "action": "reset_two_factor_action",
            "_selected_action": [owner.pk],
            "_confirm": "yes",
            "reason": "x",
        },
    )
    owner.refresh_from_db()
    assert owner.two_factor_enabled


def test_in_production_staff_need_a_verified_second_factor(ops, settings, enrol):
    settings.ADMIN_REQUIRES_TWO_FACTOR = True
    index = reverse("admin:index")
    assert _client(ops).get(index).status_code == 302  # signed in, but no second factor
    enrol(ops)
    device = TOTPDevice.objects.get(user=ops)
    assert _client(ops, device).get(index).status_code == 200


def test_in_the_embedded_default_only_enrolled_staff_need_it(ops, settings, enrol):
    settings.ADMIN_REQUIRES_TWO_FACTOR = False
    index = reverse("admin:index")
    assert _client(ops).get(index).status_code == 200  # the demo's ops login
    enrol(ops)
    assert _client(ops).get(index).status_code == 302
    assert _client(ops, TOTPDevice.objects.get(user=ops)).get(index).status_code == 200


def test_the_admin_sign_in_form_sends_accounts_with_2fa_to_the_portal(ops, enrol):
    enrol(ops)
    client = Client()
    response = client.post(reverse("admin:login"), {"username": ops.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "sign in on the portal" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_sign_in_form_still_works_without_2fa_in_the_embedded_default(ops):
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"username": ops.email, "password": PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_staff_signing_in_on_the_portal_with_2fa_reach_the_admin(ops, settings, enrol, next_code):
    settings.ADMIN_REQUIRES_TWO_FACTOR = True
    app = enrol(ops)
    client = Client()
    client.post(reverse("login"), {"username": ops.email, "password": PASSWORD})
    client.post(reverse("login_second_step"), {"code": next_code(app)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_superuser_resets_from_the_people_page_too(superuser, owner, enrol):
    enrol(owner)
    client = _client(superuser)
    html = client.get(reverse("admin:portal_user_changelist")).content.decode()
    assert "Reset two-factor authentication" in html
    client.post(
        reverse("admin:portal_user_changelist"),
        {
            "action": "reset_two_factor_action",
            "_selected_action": [owner.pk],
            "index": 0,
            "_confirm": "yes",
            "reason": "Lost phone",
        },
    )
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
