import pytest
from django.contrib.auth import authenticate

from accounts.models import User
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_email_is_the_login_identifier_and_case_insensitive(owner):
    assert authenticate(username="OWNER@rotterdam.example", password=PASSWORD) == owner


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(owner):
    assert owner.password.startswith("argon2$")


@pytest.mark.django_db
def test_membership_roles(org_admin, member, org):
    assert org.memberships.admins().get().user == org_admin
    assert not member.memberships.get().is_admin


@pytest.mark.django_db
def test_create_user_normalises_email():
    user = User.objects.create_user(email="Someone@Example.COM", password=PASSWORD)
    assert user.email == "someone@example.com"
