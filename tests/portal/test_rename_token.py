"""Renaming a token on its settings form, through the token service."""

import pytest
from django.urls import reverse

from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_renaming_a_token_goes_through_the_service(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner).post(
        reverse("token_settings", args=[token.pk]), {"name": "renamed", "description": "x"}
    )
    token.refresh_from_db()
    assert token.name == "renamed"
    assert AuditEvent.objects.filter(action="token.updated", token=token).exists()


def test_renaming_to_a_name_already_in_use_is_explained(client, owner, org, sign_in, issue):
    issue(owner, org, name="taken")
    token = issue(owner, org, name="mine").token
    response = sign_in(client, owner).post(
        reverse("token_settings", args=[token.pk]), {"name": "taken"}
    )
    assert response.status_code == 400
    assert "already have a token called" in response.content.decode()


def test_a_revoked_token_cannot_be_renamed(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    services.revoke_token(token, actor=Actor.for_user(owner), reason="")
    response = sign_in(client, owner).post(
        reverse("token_settings", args=[token.pk]), {"name": "new name"}
    )
    assert response.status_code == 400
    assert "A revoked token cannot be changed" in response.content.decode()
