"""A token's page: who may open it, its 30 days of usage, its open findings."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from telemetry.models import Anomaly, UsageHourly

pytestmark = pytest.mark.django_db


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


def test_the_chart_draws_each_day_once_with_its_segments_and_the_table_newest_first(
    client, owner, org, sign_in, issue
):
    token = issue(owner, org).token
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    UsageHourly.objects.create(
        token=token, organization=org, hour=today, requests=7, status_2xx=5, status_5xx=2
    )
    UsageHourly.objects.create(
        token=token,
        organization=org,
        hour=today - timedelta(days=1),
        requests=3,
        status_2xx=1,
        status_4xx=2,
    )
    html = sign_in(client, owner).get(reverse("token_detail", args=[token.pk])).content.decode()

    start = html.index('<svg class="chart"')
    svg = html[start : html.index("</svg>", start)]
    assert svg.count('class="hit"') == 30
    # Today: success and server errors; yesterday: success and client errors; no other day.
    assert (svg.count('class="seg-ok"'), svg.count('class="seg-4xx"')) == (2, 1)
    assert svg.count('class="seg-5xx"') == 1
    assert "3 requests — 1 succeeded, 2 client errors, 0 server errors" in svg
    assert "7 requests — 5 succeeded, 0 client errors, 2 server errors" in svg
    table = html[html.index('<table class="list">') :]
    rows = table[: table.index("</tbody>")].split("<tr><td>")[1:]
    assert len(rows) == 30
    assert rows[0].startswith(f'{today:%a} {today.day} {today:%b}</td><td class="num">7</td>')
    assert '<td class="num">3</td><td class="num">1</td><td class="num">2</td>' in rows[1]
