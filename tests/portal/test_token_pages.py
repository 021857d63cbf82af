"""The token pages with Django's test client: dashboard, new token, the secret once, detail,
regenerate, revoke. Changes go through the real token services."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import Terminal
from telemetry.models import Anomaly, UsageHourly
from tokens import services
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken, TokenSecret

pytestmark = pytest.mark.django_db

# --- dashboard ----------------------------------------------------------------------------------


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


# --- new token ------------------------------------------------------------------------------------


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


# --- detail ---------------------------------------------------------------------------------------


def test_a_member_cannot_see_another_members_token(client, owner, member, org, sign_in, issue):
    token = issue(member, org).token
    sign_in(client, owner)
    for name in ("token_detail", "token_secret", "token_regenerate", "token_revoke"):
        assert client.get(reverse(name, args=[token.pk])).status_code == 404
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_outsider_cannot_see_a_token_of_another_organisation(
    client, owner, outsider, org, sign_in, issue
):
    token = issue(owner, org).token
    assert (
        sign_in(client, outsider).get(reverse("token_detail", args=[token.pk])).status_code == 404
    )


def test_an_org_admin_can_open_a_members_token(client, owner, org_admin, org, sign_in, issue):
    token = issue(owner, org).token
    response = sign_in(client, org_admin).get(reverse("token_detail", args=[token.pk]))
    assert response.status_code == 200
    assert owner.email in response.content.decode()


def test_token_detail_draws_30_days_of_usage_by_status_class(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    UsageHourly.objects.create(
        token=token,
        organization=org,
        hour=hour,
        requests=12,
        status_2xx=9,
        status_4xx=2,
        status_5xx=1,
    )
    UsageHourly.objects.create(
        token=token, organization=org, hour=hour - timedelta(days=40), requests=500, status_2xx=500
    )
    html = sign_in(client, owner).get(reverse("token_detail", args=[token.pk])).content.decode()
    assert html.count('<g class="day">') == 30
    assert "12 requests — 9 succeeded, 2 client errors, 1 server error" in html
    assert '<span class="n">12</span><span class="k">requests</span>' in html  # 40 days ago: out


def test_token_detail_shows_open_findings(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    Anomaly.objects.create(
        rule=Anomaly.Rule.NEW_COUNTRY, severity="high", token=token, organization=org, window="w"
    )
    html = sign_in(client, owner).get(reverse("token_detail", args=[token.pk])).content.decode()
    assert "Used from a new country" in html and "High severity" in html


def test_renaming_a_token_goes_through_the_service(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner).post(
        reverse("token_settings", args=[token.pk]), {"name": "renamed", "description": "x"}
    )
    token.refresh_from_db()
    assert token.name == "renamed"
    assert AuditEvent.objects.filter(action="token.updated", token=token).exists()


# --- regenerate ---------------------------------------------------------------------------------


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


# --- revoke -------------------------------------------------------------------------------------


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


def test_creating_a_token_needs_a_csrf_token(csrf_client, owner, org, sign_in, new_token_data):
    client = sign_in(csrf_client, owner)
    assert client.post(reverse("token_new"), new_token_data()).status_code == 403
    assert not PersonalAccessToken.objects.exists()


def test_every_form_on_the_token_pages_carries_a_csrf_token(client, owner, org, sign_in, issue):
    token = issue(owner, org).token
    sign_in(client, owner)
    for url in (
        reverse("token_new"),
        reverse("token_detail", args=[token.pk]),
        reverse("token_regenerate", args=[token.pk]),
        reverse("token_revoke", args=[token.pk]),
    ):
        html = client.get(url).content.decode()
        posts = len(re.findall(r'<form method="post"', html))
        assert posts and html.count("csrfmiddlewaretoken") == posts, url


def test_pages_carry_csp_and_frame_protection_and_no_inline_script_or_style(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    sign_in(client, owner)
    for url in (
        reverse("dashboard"),
        reverse("token_new"),
        reverse("token_detail", args=[token.pk]),
    ):
        response = client.get(url)
        html = response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_secret_expiry_is_stored_as_an_aware_utc_moment(
    client, owner, org, sign_in, new_token_data
):
    sign_in(client, owner).post(reverse("token_new"), new_token_data(expiry="7"))
    expires = PersonalAccessToken.objects.get().expires_at
    assert expires.utcoffset() == timedelta(0)
    assert expires > datetime.now(UTC)


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
