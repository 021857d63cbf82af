"""Creating a token on the new-token page: the policy's limits, every setting through the token
service, each refusal explained next to its field, and the secret shown once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import Terminal
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, TokenSecret

pytestmark = pytest.mark.django_db


def test_new_token_form_shows_the_policys_limits(client, owner, org, sign_in):
    services.update_token_policy(
        org, actor=Actor.system(), max_lifetime_days=45, member_scopes=["fleet:read"]
    )
    html = sign_in(client, owner).get(reverse("token_new")).content.decode()
    assert "45 days" in html
    assert "Only an organisation admin can grant this" in html
    assert 'value="90"' not in html  # a preset longer than the policy is not offered
    assert 'value="none"' not in html


def test_creating_a_token_shows_its_secret_once_with_no_store(
    client, owner, org, sign_in, new_token_data, find_secret
):
    sign_in(client, owner)
    response = client.post(reverse("token_new"), new_token_data())
    token = PersonalAccessToken.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("token_secret", args=[token.pk])
    assert "qgp_" not in response["Location"]

    shown = client.get(response["Location"])
    secret = find_secret(shown.content.decode())
    assert secret.startswith(token.display_prefix)
    assert TokenSecret.objects.get(token=token).secret_hash == services.hash_secret(secret)
    assert "no-store" in shown["Cache-Control"]
    assert "shown" in shown.content.decode()

    again = client.get(response["Location"])
    assert again.status_code == 200
    assert "no-store" in again["Cache-Control"]
    assert not find_secret(again.content.decode())
    assert "no longer shown" in again.content.decode()


def test_the_secret_is_not_kept_in_the_session_after_it_was_shown(
    client, owner, org, sign_in, new_token_data
):
    sign_in(client, owner)
    location = client.post(reverse("token_new"), new_token_data())["Location"]
    assert "qg_new_secret" in client.session
    client.get(location)
    assert "qg_new_secret" not in client.session


def test_creating_a_token_goes_through_the_service_with_every_setting(
    client, owner, org, sign_in, new_token_data
):
    terminal = Terminal.objects.create(organization=org, code="RTM-APM", name="APM", country="NL")
    sign_in(client, owner)
    client.post(
        reverse("token_new"),
        new_token_data(
            expiry="7",
            terminal_access="selected",
            terminals=[str(terminal.pk)],
            allowed_ips="203.0.113.7\n198.51.100.0/24",
            rate_limit_per_hour="100",
            notify_on_new_ip="on",
        ),
    )
    token = PersonalAccessToken.objects.get(owner=owner)
    assert token.scopes == ["fleet:read", "alarms:write"]
    assert list(token.terminals.all()) == [terminal]
    assert token.allowed_ips == ["203.0.113.7/32", "198.51.100.0/24"]
    assert token.rate_limit_per_hour == 100 and token.notify_on_new_ip
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    assert AuditEvent.objects.filter(action="token.created", token=token, actor_user=owner).exists()


def test_a_custom_date_beyond_the_policy_gets_the_services_message(
    client, owner, org, sign_in, new_token_data
):
    too_late = (timezone.now() + timedelta(days=120)).date().isoformat()
    sign_in(client, owner)
    response = client.post(
        reverse("token_new"), new_token_data(expiry="custom", expires_on=too_late)
    )
    assert response.status_code == 400
    assert "expire within 90 days" in response.content.decode()
    assert not PersonalAccessToken.objects.exists()


def test_a_custom_date_within_the_policy_is_accepted(client, owner, org, sign_in, new_token_data):
    date = (timezone.now() + timedelta(days=90)).date()
    sign_in(client, owner)
    client.post(reverse("token_new"), new_token_data(expiry="custom", expires_on=date.isoformat()))
    assert PersonalAccessToken.objects.get(owner=owner).expires_at.date() == date


def test_custom_without_a_date_asks_for_one(client, owner, org, sign_in, new_token_data):
    response = sign_in(client, owner).post(reverse("token_new"), new_token_data(expiry="custom"))
    assert response.status_code == 400
    assert "Pick the date" in response.content.decode()


def test_no_expiry_is_refused_by_the_policy_even_when_posted(
    client, owner, org, sign_in, new_token_data
):
    response = sign_in(client, owner).post(reverse("token_new"), new_token_data(expiry="none"))
    # "none" isn't offered, so the form itself refuses the choice; nothing is created.
    assert response.status_code == 400
    assert not PersonalAccessToken.objects.exists()


def test_no_expiry_is_offered_and_works_when_the_policy_allows_it(
    client, owner, org, sign_in, new_token_data
):
    services.update_token_policy(org, actor=Actor.system(), allow_no_expiry=True)
    sign_in(client, owner)
    assert 'value="none"' in client.get(reverse("token_new")).content.decode()
    client.post(reverse("token_new"), new_token_data(expiry="none"))
    assert PersonalAccessToken.objects.get(owner=owner).expires_at is None


def test_a_scope_the_policy_keeps_for_admins_is_refused_with_the_services_message(
    client, owner, org, sign_in, new_token_data
):
    services.update_token_policy(org, actor=Actor.system(), member_scopes=["fleet:read"])
    response = sign_in(client, owner).post(
        reverse("token_new"), new_token_data(scopes=["alarms:write"])
    )
    assert response.status_code == 400
    assert "Ask an organisation admin" in response.content.decode()


def test_no_scope_at_all_is_explained(client, owner, org, sign_in, new_token_data):
    response = sign_in(client, owner).post(reverse("token_new"), new_token_data(scopes=[]))
    assert response.status_code == 400
    assert "Choose at least one scope" in response.content.decode()


def test_a_bad_ip_range_is_explained_next_to_the_allow_list(
    client, owner, org, sign_in, new_token_data
):
    response = sign_in(client, owner).post(
        reverse("token_new"), new_token_data(allowed_ips="10.0.0.0/33")
    )
    assert response.status_code == 400
    assert "is not an IP address or CIDR range" in response.content.decode()


def test_a_required_allow_list_is_explained(client, owner, org, sign_in, new_token_data):
    services.update_token_policy(org, actor=Actor.system(), require_ip_allowlist=True)
    response = sign_in(client, owner).post(reverse("token_new"), new_token_data())
    assert response.status_code == 400
    assert "requires an IP allow-list" in response.content.decode()


def test_a_duplicate_name_is_explained(client, owner, org, sign_in, issue, new_token_data):
    issue(owner, org, name="Berth planner")
    response = sign_in(client, owner).post(reverse("token_new"), new_token_data())
    assert response.status_code == 400
    assert "already have a token called" in response.content.decode()


def test_another_organisations_terminal_cannot_be_selected(
    client, owner, org, other_org, sign_in, new_token_data
):
    foreign = Terminal.objects.create(organization=other_org, code="ANR-1", name="A", country="BE")
    response = sign_in(client, owner).post(
        reverse("token_new"),
        new_token_data(terminal_access="selected", terminals=[str(foreign.pk)]),
    )
    assert response.status_code == 400
    assert not PersonalAccessToken.objects.exists()


def test_a_person_without_an_organisation_is_told_why_they_cannot_create_a_token(
    client, db, sign_in
):
    from tests.conftest import make_user

    loner = make_user("loner@example.com")
    response = sign_in(client, loner).get(reverse("token_new"))
    assert response.status_code == 403
    assert "not in an organisation" in response.content.decode()


def test_creating_a_token_needs_a_csrf_token(csrf_client, owner, org, sign_in, new_token_data):
    client = sign_in(csrf_client, owner)
    assert client.post(reverse("token_new"), new_token_data()).status_code == 403
    assert not PersonalAccessToken.objects.exists()


def test_secret_expiry_is_stored_as_an_aware_utc_moment(
    client, owner, org, sign_in, new_token_data
):
    sign_in(client, owner).post(reverse("token_new"), new_token_data(expiry="7"))
    expires = PersonalAccessToken.objects.get().expires_at
    assert expires.utcoffset() == timedelta(0)
    assert expires > datetime.now(UTC)


def test_a_pending_secret_is_shown_only_on_its_own_tokens_page(
    client, owner, org, sign_in, issue, new_token_data, find_secret
):
    other = issue(owner, org, name="other").token
    sign_in(client, owner)
    location = client.post(reverse("token_new"), new_token_data())["Location"]
    html = client.get(reverse("token_secret", args=[other.pk])).content.decode()
    assert not find_secret(html)
    # Looking elsewhere spent it: the secret is never left behind in the session.
    assert not find_secret(client.get(location).content.decode())
