"""Revoking a token: asked first, done through the token service, by its owner or an org admin,
only by a POST with a CSRF token, and never redirecting to another site."""

import pytest
from django.urls import reverse

from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_revoking_asks_first_then_revokes_through_the_service(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner)
    confirm = client.get(reverse("token_revoke", args=[token.pk]))
    assert "Revoke “sync”?" in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None

    response = client.post(reverse("token_revoke", args=[token.pk]), {"reason": "moved to vault"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by_kind == "owner"
    event = AuditEvent.objects.get(action="token.revoked", token=token)
    assert event.details["reason"] == "moved to vault" and event.actor_user == owner


def test_an_org_admin_can_revoke_a_members_token(client, owner, org_admin, org, sign_in, issue):
    token = issue(owner, org).token
    back = reverse("org_tokens", args=[org.slug])
    response = sign_in(client, org_admin).post(
        reverse("token_revoke", args=[token.pk]), {"reason": "left the company", "next": back}
    )
    assert response["Location"] == back
    token.refresh_from_db()
    assert token.revoked_by_kind == "org_admin" and token.revoked_by == org_admin


def test_revoke_does_not_redirect_to_another_site(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    response = sign_in(client, owner).post(
        reverse("token_revoke", args=[token.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("token_detail", args=[token.pk])


def test_revoking_needs_a_post_with_a_csrf_token(csrf_client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    client = sign_in(csrf_client, owner)
    assert client.post(reverse("token_revoke", args=[token.pk]), {}).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
