"""Account settings: expiry reminders on or off, through notifications.services."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_expiry_reminders_can_be_turned_off_and_on(client, owner, sign_in):
    sign_in(client, owner)
    assert client.post(reverse("account"), {}).status_code == 302
    owner.refresh_from_db()
    assert not owner.wants_expiry_reminders
    client.post(reverse("account"), {"wants_expiry_reminders": "on"})
    owner.refresh_from_db()
    assert owner.wants_expiry_reminders


def test_the_account_page_shows_the_current_choice_and_organisations(client, owner, org, sign_in):
    html = sign_in(client, owner).get(reverse("account")).content.decode()
    assert 'name="wants_expiry_reminders" id="id_wants_expiry_reminders" checked' in html or (
        "checked" in html and "wants_expiry_reminders" in html
    )
    assert org.name in html
