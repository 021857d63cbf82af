"""Regenerating a token: the new secret shown once, the old one dead at once or after the
overlap chosen, and a revoked token refused."""

from datetime import timedelta

import pytest
from django.urls import reverse

from tokens import services
from tokens.actors import Actor
from tokens.models import TokenSecret

pytestmark = pytest.mark.django_db


def test_regenerating_shows_the_new_secret_once_and_kills_the_old_one(
    client, owner, org, sign_in, issue, find_secret
):
    issued = issue(owner, org)
    sign_in(client, owner)
    confirm = client.get(reverse("token_regenerate", args=[issued.token.pk]))
    assert confirm.status_code == 200 and "Regenerate" in confirm.content.decode()
    response = client.post(
        reverse("token_regenerate", args=[issued.token.pk]), {"overlap_hours": "0"}
    )
    assert response.status_code == 302
    secret = find_secret(client.get(response["Location"]).content.decode())
    assert secret != issued.secret
    current = TokenSecret.objects.get(token=issued.token, retired_at__isnull=True)
    assert current.secret_hash == services.hash_secret(secret)


def test_regenerating_with_an_overlap_keeps_the_old_secret_working_that_long(
    client, owner, org, sign_in, issue
):
    issued = issue(owner, org)
    sign_in(client, owner).post(
        reverse("token_regenerate", args=[issued.token.pk]), {"overlap_hours": "24"}
    )
    old = TokenSecret.objects.get(secret_hash=services.hash_secret(issued.secret))
    assert old.valid_until - old.retired_at == timedelta(hours=24)


def test_an_overlap_the_form_does_not_offer_is_refused(client, owner, org, sign_in, issue):
    issued = issue(owner, org)
    response = sign_in(client, owner).post(
        reverse("token_regenerate", args=[issued.token.pk]), {"overlap_hours": "48"}
    )
    assert response.status_code == 400
    assert TokenSecret.objects.filter(token=issued.token).count() == 1


def test_a_revoked_token_cannot_be_regenerated(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    services.revoke_token(token, actor=Actor.for_user(owner), reason="")
    response = sign_in(client, owner).post(
        reverse("token_regenerate", args=[token.pk]), {"overlap_hours": "0"}
    )
    assert response.status_code == 400
    assert "cannot be regenerated" in response.content.decode()
