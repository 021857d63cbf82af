"""Telemetry: raw readings and hourly/daily min/avg/max buckets, against hand-computed values."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.api.factories import reading, save_readings

pytestmark = pytest.mark.django_db

URL = "/api/v1/spreaders/EMX-001/telemetry"


def at(hour: int, minute: int = 0, second: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def readings(fleet):
    s = fleet.emx_spreader
    return save_readings(
        # 10:00 hour: load 10, 20, 36; cycles 1, 2, 4
        reading(s, at(10, 0), load_tonnes=10, twistlock_cycles=1, oil_temperature_c=40.5),
        reading(s, at(10, 20), load_tonnes=20, twistlock_cycles=2, oil_temperature_c=41.5),
        reading(s, at(10, 40), load_tonnes=36, twistlock_cycles=4, oil_temperature_c=45.0),
        # 11:00 hour: one reading
        reading(s, at(11, 30), load_tonnes=5, twistlock_cycles=5, oil_temperature_c=50.0),
        # 12:00 hour: none. 13:00 hour: both edges of the hour
        reading(s, at(13, 0), load_tonnes=9, twistlock_cycles=6, oil_temperature_c=39.0),
        reading(s, at(13, 59, 59), load_tonnes=7, twistlock_cycles=9, oil_temperature_c=38.0),
        # the next day, and another spreader at the same moments: outside every answer below
        reading(s, at(0, 0, day=3), load_tonnes=100, twistlock_cycles=100),
        reading(fleet.rwg_spreader, at(10, 0), load_tonnes=999),
        reading(fleet.ant_spreader, at(10, 0), load_tonnes=999),
    )


def get(client, **params):
    return client.get(URL, params)


def test_hourly_buckets_hold_min_avg_max_per_metric(readings, partner):
    response = get(
        partner,
        since="2026-03-02T00:00:00Z",
        until="2026-03-03T00:00:00Z",
        resolution="hour",
        metrics="load_tonnes,twistlock_cycles",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["spreader"] == "EMX-001"
    assert body["resolution"] == "hour"
    assert body["metrics"] == ["twistlock_cycles", "load_tonnes"]
    points = body["points"]
    assert [p["time"] for p in points] == [
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
        "2026-03-02T13:00:00Z",  # the empty 12:00 hour is left out
    ]
    assert [p["count"] for p in points] == [3, 1, 2]
    assert points[0]["load_tonnes"] == {"min": 10.0, "avg": pytest.approx(22.0), "max": 36.0}
    assert points[0]["twistlock_cycles"]["min"] == 1
    assert points[0]["twistlock_cycles"]["avg"] == pytest.approx(7 / 3)
    assert points[0]["twistlock_cycles"]["max"] == 4
    assert points[1]["load_tonnes"] == {"min": 5.0, "avg": pytest.approx(5.0), "max": 5.0}
    assert points[2]["load_tonnes"] == {"min": 7.0, "avg": pytest.approx(8.0), "max": 9.0}
    assert "oil_temperature_c" not in points[0]


def test_daily_buckets_cover_utc_days(readings, partner):
    body = get(
        partner,
        since="2026-03-01T00:00:00Z",
        until="2026-03-04T00:00:00Z",
        resolution="day",
        metrics="load_tonnes,oil_temperature_c",
    ).json()

    first, second = body["points"]
    assert first["time"] == "2026-03-02T00:00:00Z"
    assert first["count"] == 6
    assert first["load_tonnes"] == {"min": 5.0, "avg": pytest.approx(87 / 6), "max": 36.0}
    assert first["oil_temperature_c"]["avg"] == pytest.approx(254.0 / 6)
    assert second["time"] == "2026-03-03T00:00:00Z"
    assert second["count"] == 1
    assert second["load_tonnes"]["max"] == 100.0


def test_the_window_is_since_inclusive_until_exclusive(readings, partner):
    body = get(
        partner,
        since="2026-03-02T10:20:00Z",
        until="2026-03-02T13:00:00Z",
        resolution="raw",
        metrics="load_tonnes",
    ).json()

    assert body["points"] == [
        {"time": "2026-03-02T10:20:00Z", "load_tonnes": 20.0},
        {"time": "2026-03-02T10:40:00Z", "load_tonnes": 36.0},
        {"time": "2026-03-02T11:30:00Z", "load_tonnes": 5.0},
    ]


def test_raw_readings_carry_every_metric_by_default(readings, partner):
    body = get(
        partner, since="2026-03-02T10:00:00Z", until="2026-03-02T10:01:00Z", resolution="raw"
    ).json()

    assert body["points"] == [
        {
            "time": "2026-03-02T10:00:00Z",
            "twistlock_cycles": 1,
            "lifts": 0,
            "load_tonnes": 10.0,
            "hydraulic_pressure_bar": 0.0,
            "oil_temperature_c": 40.5,
            "operating_hours": 0.0,
        }
    ]


def test_times_with_an_offset_are_converted_to_utc(readings, partner):
    body = get(
        partner,
        since="2026-03-02T11:00:00+01:00",
        until="2026-03-02T12:00:00+01:00",
        resolution="raw",
        metrics="load_tonnes",
    ).json()

    assert body["since"] == "2026-03-02T10:00:00Z"
    assert [p["load_tonnes"] for p in body["points"]] == [10.0, 20.0, 36.0]


def test_default_window_is_the_last_24_hours_by_hour(fleet, partner):
    now = timezone.now()
    save_readings(
        reading(fleet.emx_spreader, now - timedelta(hours=2), load_tonnes=3),
        reading(fleet.emx_spreader, now - timedelta(hours=30), load_tonnes=4),
    )

    body = partner.get(URL).json()

    assert body["resolution"] == "hour"
    assert [p["load_tonnes"]["max"] for p in body["points"]] == [3.0]


def test_an_empty_window_has_no_points(fleet, partner):
    body = get(partner, since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z").json()

    assert body["points"] == []


@pytest.mark.parametrize(("resolution", "days"), [("raw", 8), ("hour", 181), ("day", 3654)])
def test_a_window_too_large_for_its_resolution_is_a_400(fleet, partner, resolution, days):
    until = datetime(2026, 3, 1, tzinfo=UTC)
    since = until - timedelta(days=days)

    response = get(partner, since=since.isoformat(), until=until.isoformat(), resolution=resolution)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "window_too_large"
    assert error["field"] == "since"


def test_the_largest_windows_are_allowed(fleet, partner):
    until = datetime(2026, 3, 1, tzinfo=UTC)
    for resolution, days in [("raw", 7), ("hour", 180), ("day", 3653)]:
        since = until - timedelta(days=days)
        response = get(
            partner, since=since.isoformat(), until=until.isoformat(), resolution=resolution
        )
        assert response.status_code == 200, (resolution, response.content)


def test_more_readings_than_the_point_limit_is_a_400(readings, partner, monkeypatch):
    monkeypatch.setattr("fleet.readings.MAX_POINTS", 5)

    response = get(
        partner, since="2026-03-02T00:00:00Z", until="2026-03-03T00:00:00Z", resolution="raw"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_points"
    assert "resolution=hour" in response.json()["detail"]


def test_since_after_until_is_a_400(fleet, partner):
    response = get(partner, since="2026-03-02T00:00:00Z", until="2026-03-01T00:00:00Z")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "empty_window"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metrics": "load_tonnes,colour"}, "metrics"),
        ({"resolution": "minute"}, "resolution"),
        ({"since": "2026-02-30T00:00:00Z"}, "since"),
        ({"cursor": "x"}, "cursor"),  # telemetry is not paginated
    ],
)
def test_bad_parameters_are_400s_naming_the_field(fleet, partner, params, field):
    response = get(partner, **params)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
