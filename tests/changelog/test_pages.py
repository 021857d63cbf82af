"""The changelog in both forms, from the same file: the page and GET /api/v1/changelog."""

import pytest
import requests
from django.urls import reverse
from django.utils.html import escape

from changelog import entries

pytestmark = pytest.mark.django_db

URL = "/api/v1/changelog"


def all_pages(client, limit: int) -> list[dict]:
    results, url = [], f"{URL}?limit={limit}"
    while url:
        body = client.get(url).json()
        results += body["results"]
        url = body["next"]
    return results


def test_the_json_lists_every_entry_of_the_file_newest_first(client, changelog_file):
    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    assert [item["id"] for item in body["results"]] == [e.id for e in entries.entries()]
    first = body["results"][0]
    assert first == {
        "id": "retire-maintenance-list",
        "version": "1.7.0",
        "date": "2026-12-03",
        "kind": "deprecated",
        "title": "GET /maintenance is deprecated: use each spreader's records",
        "description": "The organisation-wide maintenance list is deprecated.\n\n"
        "Read each spreader's maintenance instead.",
        "operations": ["maintenance_list", "alarms_list"],
        "all_operations": False,
        "sunset": "2027-06-30",
    }
    launch = next(item for item in body["results"] if item["id"] == "v1-launch")
    assert launch["version"] == "1.0.0" and launch["sunset"] is None


def test_it_needs_no_token_and_ignores_a_bad_one(client):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer qgp_NotARealToken")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"


def test_it_pages_with_cursors_both_ways(client):
    everything = [e.id for e in entries.entries()]

    assert [item["id"] for item in all_pages(client, 3)] == everything
    second = client.get(client.get(f"{URL}?limit=3").json()["next"]).json()
    back = client.get(second["previous"]).json()
    assert [item["id"] for item in back["results"]] == everything[:3]
    assert back["previous"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [("cursor=bm9wZQ", "invalid_cursor"), ("limit=0", "invalid_limit"), ("sort=id", None)],
)
def test_bad_parameters_are_a_400_problem(client, query, code):
    response = client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    if code:
        assert response.json()["errors"][0]["code"] == code


def test_it_costs_no_query(client, django_assert_num_queries, without_usage_log):
    client.get(URL)  # the file is parsed once
    with django_assert_num_queries(0):
        assert client.get(URL).status_code == 200


def test_the_page_shows_every_release_and_entry_of_the_file(client, changelog_file):
    response = client.get(reverse("api:changelog"))

    assert response.status_code == 200
    html = response.content.decode()
    for release in entries.releases():
        assert f'id="v{release.version}"' in html
        for entry in release.entries:
            assert f'id="{entry.id}"' in html
            assert escape(entry.title) in html
            assert escape(entry.paragraphs[0]) in html
    assert 'Sunset:</strong> <time datetime="2027-06-30">' in html
    assert "GET /api/v1/maintenance" in html
    assert "#operation/maintenance_list" in html
    assert "v1</code> never breaks" in html
    assert "at least 183 days" in html


def test_the_page_is_offline_and_keeps_the_strict_policy(client):
    response = client.get(reverse("api:changelog"))

    html = response.content.decode()
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy


def test_the_guide_and_every_page_link_to_it(client):
    guide = client.get(reverse("api:getting-started")).content.decode()

    assert 'href="/api/changelog/"' in guide
    assert 'href="/api/changelog/"' in client.get(reverse("api:changelog")).content.decode()


def test_the_live_server_serves_both(live_server):
    page = requests.get(f"{live_server.url}/api/changelog/", timeout=10)
    data = requests.get(f"{live_server.url}{URL}", timeout=10)

    assert page.status_code == 200 and data.status_code == 200
    assert all(escape(item["title"]) in page.text for item in data.json()["results"])
