"""Superusers make ops users in admin: staff, in the Ops group, with an email login."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_superuser_creates_a_person_with_an_email_login(super_client):
    response = super_client.post(
        reverse("admin:portal_user_add"),
        {
            "email": "New.Ops@Quaygate.example",
            "full_name": "Nia Ops",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    user = User.objects.get(email="new.ops@quaygate.example")
    assert user.check_password(PASSWORD)
    assert not user.is_staff and not user.is_superuser


def test_an_email_already_in_use_is_refused_whatever_its_case(super_client, owner):
    response = super_client.post(
        reverse("admin:portal_user_add"),
        {
            "email": owner.email.upper(),
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert b"Someone already signs in with this email" in response.content
    assert User.objects.filter(email__iexact=owner.email).count() == 1


def test_a_superuser_makes_someone_ops(super_client, member):
    from tests.admin.conftest import form_data

    url = reverse("admin:portal_user_change", args=[member.pk])
    data = form_data(super_client.get(url))
    data |= {"is_staff": "on", "groups": [str(Group.objects.get(name="Ops").pk)], "_save": "Save"}
    response = super_client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    member.refresh_from_db()
    assert member.is_staff and not member.is_superuser
    assert member.has_perm("tokens.change_personalaccesstoken")
