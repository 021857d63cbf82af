"""Telemetry buckets in a time zone (`tz`), against hand-computed values across DST changes.

Europe/Amsterdam is UTC+1 in winter (CET) and UTC+2 in summer (CEST). In 2026 the clocks go
forward on Sunday 29 March at 01:00 UTC (02:00 CET -> 03:00 CEST: a 23-hour day) and back on
Sunday 25 October at 01:00 UTC (03:00 CEST -> 02:00 CET: a 25-hour day, 02:00-03:00 twice).
"""

from datetime import UTC, datetime, timedelta

import pytest

from fleet import readings
from tests.api.factories import reading, save_readings

pytestmark = pytest.mark.django_db

URL = "/api/v1/spreaders/EMX-001/telemetry"


def utc(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def get(client, **params):
    response = client.get(URL, {"metrics": "load_tonnes", **params})
    assert response.status_code == 200, response.content
    return response.json()


def summary(body) -> list[tuple[str, int, float, float, float]]:
    return [
        (p["time"], p["count"], *(p["load_tonnes"][k] for k in ("min", "avg", "max")))
        for p in body["points"]
    ]


@pytest.fixture
def spring(fleet):
    s = fleet.emx_spreader
    return save_readings(
        reading(s, utc(3, 28, 22, 30), load_tonnes=1),  # Sat 23:30 CET: Saturday
        reading(s, utc(3, 28, 23, 0), load_tonnes=2),  # Sun 00:00 CET: Sunday's first instant
        reading(s, utc(3, 29, 0, 30), load_tonnes=4),  # Sun 01:30 CET
        reading(s, utc(3, 29, 1, 15), load_tonnes=8),  # Sun 03:15 CEST (02:xx never happened)
        reading(s, utc(3, 29, 21, 59, 59), load_tonnes=16),  # Sun 23:59:59 CEST
        reading(s, utc(3, 29, 22, 0), load_tonnes=32),  # Mon 00:00 CEST: Monday
    )


@pytest.fixture
def autumn(fleet):
    s = fleet.emx_spreader
    return save_readings(
        reading(s, utc(10, 24, 21, 59), load_tonnes=1),  # Sat 23:59 CEST: Saturday
        reading(s, utc(10, 24, 22, 0), load_tonnes=2),  # Sun 00:00 CEST
        reading(s, utc(10, 25, 0, 30), load_tonnes=4),  # Sun 02:30 CEST (the first 02:30)
        reading(s, utc(10, 25, 1, 30), load_tonnes=8),  # Sun 02:30 CET (the second 02:30)
        reading(s, utc(10, 25, 22, 59), load_tonnes=16),  # Sun 23:59 CET
        reading(s, utc(10, 25, 23, 0), load_tonnes=32),  # Mon 00:00 CET: Monday
    )


def test_days_start_at_amsterdam_midnight_across_spring_forward(spring, partner):
    body = get(
        partner,
        since="2026-03-27T00:00:00Z",
        until="2026-03-31T00:00:00Z",
        resolution="day",
        tz="Europe/Amsterdam",
    )

    assert body["time_zone"] == "Europe/Amsterdam"
    assert body["since"] == "2026-03-27T01:00:00+01:00"
    assert body["until"] == "2026-03-31T02:00:00+02:00"
    assert summary(body) == [
        ("2026-03-28T00:00:00+01:00", 1, 1.0, 1.0, 1.0),
        # Sunday: 23 hours, 23:00Z Saturday to 22:00Z Sunday; (2 + 4 + 8 + 16) / 4 = 7.5
        ("2026-03-29T00:00:00+01:00", 4, 2.0, 7.5, 16.0),
        ("2026-03-30T00:00:00+02:00", 1, 32.0, 32.0, 32.0),
    ]


def test_the_same_readings_in_utc_days_fall_differently(spring, partner):
    body = get(
        partner, since="2026-03-27T00:00:00Z", until="2026-03-31T00:00:00Z", resolution="day"
    )

    assert body["time_zone"] == "UTC"
    assert summary(body) == [
        ("2026-03-28T00:00:00Z", 2, 1.0, 1.5, 2.0),
        ("2026-03-29T00:00:00Z", 4, 4.0, 15.0, 32.0),  # (4 + 8 + 16 + 32) / 4
    ]


def test_days_start_at_amsterdam_midnight_across_fall_back(autumn, partner):
    body = get(
        partner,
        since="2026-10-23T00:00:00Z",
        until="2026-10-27T00:00:00Z",
        resolution="day",
        tz="Europe/Amsterdam",
    )

    assert summary(body) == [
        ("2026-10-24T00:00:00+02:00", 1, 1.0, 1.0, 1.0),
        # Sunday: 25 hours, 22:00Z Saturday to 23:00Z Sunday; (2 + 4 + 8 + 16) / 4 = 7.5
        ("2026-10-25T00:00:00+02:00", 4, 2.0, 7.5, 16.0),
        ("2026-10-26T00:00:00+01:00", 1, 32.0, 32.0, 32.0),
    ]


def test_the_repeated_autumn_hour_is_two_hourly_buckets(autumn, partner):
    body = get(
        partner,
        since="2026-10-25T00:00:00Z",
        until="2026-10-25T02:00:00Z",
        resolution="hour",
        tz="Europe/Amsterdam",
    )

    assert summary(body) == [
        ("2026-10-25T02:00:00+02:00", 1, 4.0, 4.0, 4.0),
        ("2026-10-25T02:00:00+01:00", 1, 8.0, 8.0, 8.0),
    ]


def test_hourly_buckets_skip_the_hour_that_never_happened_in_spring(spring, partner):
    body = get(
        partner,
        since="2026-03-28T23:00:00Z",
        until="2026-03-29T02:00:00Z",
        resolution="hour",
        tz="Europe/Amsterdam",
    )

    assert [(time, count) for time, count, *_ in summary(body)] == [
        ("2026-03-29T00:00:00+01:00", 1),
        ("2026-03-29T01:00:00+01:00", 1),
        ("2026-03-29T03:00:00+02:00", 1),
    ]


def test_tz_terminal_uses_the_spreaders_terminal_zone(spring, fleet, partner):
    fleet.emx.time_zone = "Europe/Amsterdam"
    fleet.emx.save(update_fields=["time_zone"])

    body = get(
        partner,
        since="2026-03-27T00:00:00Z",
        until="2026-03-31T00:00:00Z",
        resolution="day",
        tz="terminal",
    )

    assert body["time_zone"] == "Europe/Amsterdam"
    assert [count for _, count, *_ in summary(body)] == [1, 4, 1]


def test_a_terminal_with_an_unknown_zone_answers_in_utc_and_says_so(spring, fleet, partner):
    fleet.emx.time_zone = "Atlantis/Capital"
    fleet.emx.save(update_fields=["time_zone"])

    body = get(
        partner,
        since="2026-03-27T00:00:00Z",
        until="2026-03-31T00:00:00Z",
        resolution="day",
        tz="terminal",
    )

    assert body["time_zone"] == "UTC"
    assert [count for _, count, *_ in summary(body)] == [2, 4]


def test_hours_in_a_half_hour_zone_start_at_half_past_utc(fleet, partner):
    s = fleet.emx_spreader
    save_readings(
        reading(s, utc(3, 2, 10, 29), load_tonnes=1),  # 15:59 IST
        reading(s, utc(3, 2, 10, 30), load_tonnes=2),  # 16:00 IST
        reading(s, utc(3, 2, 11, 29), load_tonnes=4),  # 16:59 IST
    )

    body = get(
        partner,
        since="2026-03-02T10:00:00Z",
        until="2026-03-02T12:00:00Z",
        resolution="hour",
        tz="Asia/Kolkata",
    )

    assert summary(body) == [
        ("2026-03-02T15:00:00+05:30", 1, 1.0, 1.0, 1.0),
        ("2026-03-02T16:00:00+05:30", 2, 2.0, 3.0, 4.0),
    ]


def test_hours_across_a_half_hour_clock_change(fleet, partner):
    """Lord Howe Island: +11:00 in summer, +10:30 in winter; on 5 April 2026 at 15:00 UTC its
    clocks go from 02:00 back to 01:30."""
    s = fleet.emx_spreader
    save_readings(
        reading(s, utc(4, 4, 14, 45), load_tonnes=1),  # 01:45 +11:00
        reading(s, utc(4, 4, 15, 10), load_tonnes=2),  # 01:40 +10:30
        reading(s, utc(4, 4, 15, 40), load_tonnes=4),  # 02:10 +10:30
    )

    body = get(
        partner,
        since="2026-04-04T14:00:00Z",
        until="2026-04-04T16:00:00Z",
        resolution="hour",
        tz="Australia/Lord_Howe",
    )

    assert [(time, count) for time, count, *_ in summary(body)] == [
        ("2026-04-05T01:00:00+11:00", 1),  # 14:00Z, until the change at 15:00Z
        ("2026-04-05T01:30:00+10:30", 1),  # from the change to the next whole local hour
        ("2026-04-05T02:00:00+10:30", 1),
    ]


def test_raw_readings_are_shown_in_the_zone(spring, partner):
    body = get(
        partner,
        since="2026-03-29T00:00:00Z",
        until="2026-03-29T02:00:00Z",
        resolution="raw",
        tz="Europe/Amsterdam",
    )

    assert [p["time"] for p in body["points"]] == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:15:00+02:00",
    ]


@pytest.mark.parametrize("tz", ["utc", "UTC"])
def test_utc_is_the_default_and_can_be_named(spring, partner, tz):
    params = {"since": "2026-03-28T00:00:00Z", "until": "2026-03-29T00:00:00Z"}

    named = get(partner, resolution="day", tz=tz, **params)

    assert named == get(partner, resolution="day", **params)
    assert named["time_zone"] == "UTC"


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus_Mons", "europe/amsterdam", "localtime", "../../etc/passwd", "+01:00"]
)
def test_an_unknown_time_zone_is_a_400(fleet, partner, tz):
    response = partner.get(URL, {"tz": tz})

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "tz"
    assert error["code"] == "unknown_time_zone"
    assert "Europe/Amsterdam" in error["detail"]


def test_a_window_at_the_start_of_the_calendar_is_a_400_in_a_zone_west_of_utc(fleet, partner):
    response = partner.get(
        URL,
        {"since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z", "tz": "America/Lima"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "out_of_range"


def test_amsterdam_hours_need_one_query_even_across_a_clock_change():
    amsterdam = readings.zone_named("Europe/Amsterdam")
    since = utc(10, 20, 0)

    stretches = readings.hour_stretches(amsterdam, since, since + timedelta(days=10))

    assert stretches == [(since, since + timedelta(days=10), UTC)]
