"""The dashboard: only the signed-in person's own tokens, newest first, their status in words,
and the same few queries however many there are."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import Terminal
from tokens import services
from tokens.actors import Actor

pytestmark = pytest.mark.django_db


def test_dashboard_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_lists_only_the_users_own_tokens_newest_first(
    client, owner, member, org, sign_in, issue
):
    issue(owner, org, name="older")
    issue(owner, org, name="newer")
    issue(member, org, name="someone else's")
    response = sign_in(client, owner).get(reverse("dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("newer") < html.index("older")
    assert "someone else&#x27;s" not in html and "someone else's" not in html


def test_dashboard_shows_status_as_words_not_colour_alone(client, owner, org, sign_in, issue):
    issue(owner, org, name="live")
    issue(owner, org, name="soon", expires_at=timezone.now() + timedelta(days=2))
    revoked = issue(owner, org, name="gone").token
    services.revoke_token(revoked, actor=Actor.for_user(owner), reason="test")
    html = sign_in(client, owner).get(reverse("dashboard")).content.decode()
    for word in ("Active", "Expires soon", "Revoked"):
        assert word in html


def test_dashboard_query_count_does_not_grow_with_tokens(
    client, owner, org, django_assert_num_queries, sign_in, issue
):
    terminal = Terminal.objects.create(
        organization=org, code="RTM-EMX", name="Euromax", country="NL"
    )
    for number in range(6):
        issue(owner, org, name=f"t{number}", terminal_access="selected", terminals=[terminal])
    sign_in(client, owner)
    # session, user, tokens (+organisation), their terminals, open anomalies
    with django_assert_num_queries(5):
        response = client.get(reverse("dashboard"))
    assert response.content.decode().count("RTM-EMX") == 6
