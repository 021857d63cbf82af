"""A tour of every main page with realistic data, on a desktop and a phone, saved as
screenshots (test-artifacts/screenshots/) so a person can check the pages look finished.
Each page must render with no script error and no CSP violation (the page fixtures check)."""

import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import Terminal
from telemetry.models import Anomaly, TokenSighting, UsageHourly, UsageRecord
from tokens import services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.browser


def seed_usage(token, *, days: int = 30, seed: int = 7) -> None:
    """A month of hourly roll-ups with a weekday rhythm, some 4xx and a bad day of 5xx."""
    rng = random.Random(seed)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows = []
    for hours_ago in range(days * 24):
        hour = now - timedelta(hours=hours_ago)
        base = 40 if hour.weekday() < 5 else 8
        if not 6 <= hour.hour <= 20:
            base //= 4
        ok = rng.randint(base // 2, base + 5)
        client = rng.randint(0, 3)
        server = rng.randint(2, 9) if hours_ago // 24 == 11 else 0
        rows.append(
            UsageHourly(
                token=token,
                organization_id=token.organization_id,
                hour=hour,
                requests=ok + client + server,
                status_2xx=ok,
                status_4xx=client,
                status_5xx=server,
                distinct_ips=2,
                countries=["NL"],
            )
        )
    UsageHourly.objects.bulk_create(rows)
    paths = ["/api/v1/spreaders", "/api/v1/alarms", "/api/v1/spreaders/BRM-0042/telemetry"]
    UsageRecord.objects.bulk_create(
        UsageRecord(
            request_id=uuid.uuid4(),
            created_at=timezone.now() - timedelta(minutes=7 * n),
            token=token,
            organization_id=token.organization_id,
            token_prefix=token.display_prefix,
            method="GET",
            route=path,
            path=path,
            status=[200, 200, 200, 404, 200, 429][n % 6],
            latency_ms=rng.uniform(8, 60),
            ip=["192.0.2.10", "198.51.100.23"][n % 2],
            country="NL",
            user_agent="berth-planner/2.3",
        )
        for n, path in enumerate(paths * 4)
    )
    seen = timezone.now() - timedelta(hours=1)
    TokenSighting.objects.bulk_create(
        TokenSighting(
            token=token,
            kind=kind,
            value=value,
            first_seen=seen - timedelta(days=20),
            last_seen=seen,
        )
        for kind, value in [
            ("ip", "192.0.2.10"),
            ("ip", "198.51.100.23"),
            ("country", "NL"),
            ("country", "BE"),
        ]
    )
    Anomaly.objects.create(
        rule=Anomaly.Rule.NEW_COUNTRY,
        severity="medium",
        token=token,
        organization_id=token.organization_id,
        window="tour",
        evidence={"country": "BE"},
    )
    Anomaly.objects.create(
        rule=Anomaly.Rule.VOLUME_SPIKE,
        severity="low",
        token=token,
        organization_id=token.organization_id,
        window="tour",
        evidence={"requests": 1840, "baseline_p95": 310, "factor": 5.9},
        state=Anomaly.State.ACKNOWLEDGED,
        state_changed_at=timezone.now() - timedelta(hours=2),
    )
    Anomaly.objects.create(
        rule=Anomaly.Rule.FAILED_AUTH_BURST,
        severity="high",
        organization_id=token.organization_id,
        subject="203.0.113.66",
        window="tour",
        evidence={"count": 212, "hour": (seen - timedelta(hours=3)).isoformat()},
    )


@pytest.fixture
def tour(owner, member, org_admin, org):
    Terminal.objects.create(organization=org, code="RTM-EMX", name="Euromax Terminal", country="NL")
    Terminal.objects.create(
        organization=org, code="RTM-APM", name="APM Maasvlakte II", country="NL"
    )
    terminals = list(Terminal.objects.filter(organization=org))
    me = Actor.for_user(owner)
    busy = services.issue_token(
        owner=owner,
        organization=org,
        name="Berth planner",
        actor=me,
        scopes=["fleet:read", "telemetry:read", "alarms:write"],
        description="Reads spreader telemetry for the berth planning system.",
        allowed_ips=["192.0.2.0/24", "198.51.100.23"],
    ).token
    services.issue_token(
        owner=owner,
        organization=org,
        name="Maintenance sync",
        actor=me,
        scopes=["maintenance:write"],
        terminal_access="selected",
        terminals=terminals[:1],
        expires_at=timezone.now() + timedelta(days=3),
    )
    old = services.issue_token(
        owner=owner, organization=org, name="Old dashboard", actor=me, scopes=["fleet:read"]
    ).token
    services.revoke_token(old, actor=me, reason="Replaced by the berth planner")
    services.issue_token(
        owner=member,
        organization=org,
        name="Alarm pager",
        actor=Actor.for_user(member),
        scopes=["alarms:read"],
    )
    seed_usage(busy)
    # What the API's authentication records on use (test data, not a portal change).
    PersonalAccessToken.objects.filter(pk=busy.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=7), last_used_ip="192.0.2.10"
    )
    busy.refresh_from_db()
    return busy


def test_screenshots_of_the_main_pages(
    page, live_server, owner, org_admin, org, tour, sign_in, shoot
):
    page.goto(f"{live_server.url}/login/")
    shoot(page, "01-login")
    page.goto(f"{live_server.url}/password-reset/")
    shoot(page, "02-password-reset")

    sign_in(page, owner)
    assert page.get_by_role("heading", name="Your tokens").is_visible()
    shoot(page, "03-dashboard")

    page.get_by_role("link", name="New token").first.click()
    shoot(page, "04-token-new")
    page.get_by_label("Name", exact=True).fill("Quay crane dashboard")
    page.get_by_role("radio", name="Custom date").check()
    page.get_by_label("Expires on").fill("2099-01-01")
    page.get_by_role("button", name="Create token").click()
    assert page.get_by_text("The token was not created").is_visible()
    shoot(page, "05-token-new-errors")

    page.goto(f"{live_server.url}/tokens/{tour.pk}/")
    assert page.locator("svg.chart g.day").count() == 30
    shoot(page, "06-token-detail")
    page.get_by_role("link", name="Regenerate…").click()
    shoot(page, "07-token-regenerate")

    page.goto(f"{live_server.url}/account/")
    shoot(page, "08-account")
    page.get_by_role("link", name="Change your password…").click()
    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Change password").click()
    assert page.get_by_text("That is not your current password").is_visible()
    shoot(page, "08b-password-change-errors")
    page.goto(f"{live_server.url}/orgs/{org.slug}/audit/")
    shoot(page, "09-org-audit-member")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, org_admin)
    page.goto(f"{live_server.url}/orgs/{org.slug}/tokens/")
    shoot(page, "10-org-tokens")
    page.goto(f"{live_server.url}/orgs/{org.slug}/policy/")
    shoot(page, "11-org-policy")
    page.goto(f"{live_server.url}/orgs/{org.slug}/audit/?action=token.revoked")
    shoot(page, "12-org-audit-filtered")
    page.goto(f"{live_server.url}/orgs/{org.slug}/findings/")
    assert page.locator("table.findings tbody tr").count() == 3
    shoot(page, "13-org-findings")
    page.get_by_role("link", name="Burst of failed authentications").click()
    shoot(page, "14-finding")


def test_screenshots_on_a_phone(phone_page, live_server, owner, org, tour, sign_in, shoot):
    page = phone_page
    page.goto(f"{live_server.url}/login/")
    shoot(page, "20-phone-login")
    sign_in(page, owner)
    shoot(page, "21-phone-dashboard")
    page.goto(f"{live_server.url}/tokens/new/")
    shoot(page, "22-phone-token-new")
    page.goto(f"{live_server.url}/tokens/{tour.pk}/")
    shoot(page, "23-phone-token-detail")
    page.goto(f"{live_server.url}/orgs/{org.slug}/findings/")
    shoot(page, "24-phone-org-findings")
    # Nothing may stick out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_screenshot_of_a_long_token_list_with_pages(
    page, live_server, org_admin, owner, org, sign_in, shoot
):
    now = timezone.now()
    PersonalAccessToken.objects.bulk_create(
        PersonalAccessToken(
            owner=owner,
            organization=org,
            name=f"Gate sensor {number:03}",
            display_prefix=f"qgp_{number:04}",
            scopes=["fleet:read"],
            created_at=now - timedelta(hours=number),
            expires_at=now + timedelta(days=60),
        )
        for number in range(120)
    )
    sign_in(page, org_admin)
    page.goto(f"{live_server.url}/orgs/{org.slug}/tokens/?page=2")
    assert page.get_by_text("Page 2 of 3").is_visible()
    page.get_by_role("link", name="Next →").click()
    assert page.locator("table.list tbody tr").count() == 20
    page.get_by_role("searchbox", name="Search").fill("Gate sensor 11")
    page.get_by_role("button", name="Search").click()
    assert page.locator("table.list tbody tr").count() == 10
    shoot(page, "15-org-tokens-search")
