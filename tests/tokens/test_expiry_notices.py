from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail

from notifications.models import Notification
from tokens.expiry import send_expiry_notices
from tokens.models import PersonalAccessToken
from tokens.tasks import send_expiry_notices_task

NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def make_token(
    owner, org, *, expires_in: timedelta | None, lived: timedelta = timedelta(days=90), **fields
):
    count = PersonalAccessToken.objects.count()
    return PersonalAccessToken.objects.create(
        owner=owner,
        organization=org,
        name=fields.pop("name", f"token {count}"),
        display_prefix=f"qgp_{count:04d}",
        created_at=NOW - lived,
        expires_at=None if expires_in is None else NOW + expires_in,
        **fields,
    )


def notices():
    return list(Notification.objects.order_by("dedup_key").values_list("kind", "dedup_key"))


@pytest.mark.parametrize(
    ("expires_in", "days"),
    [
        (timedelta(days=30), 30),
        (timedelta(days=29, hours=1), 30),
        (timedelta(days=7), 7),
        (timedelta(days=6, hours=23), 7),
        (timedelta(days=1), 1),
        (timedelta(hours=5), 1),
    ],
)
def test_a_token_crossing_a_warning_gets_that_warning(owner, org, expires_in, days):
    token = make_token(owner, org, expires_in=expires_in)

    send_expiry_notices()

    expected_key = f"token_expiring:{token.id}:{days}:{token.expires_at.date().isoformat()}"
    assert notices() == [("token_expiring", expected_key)]


@pytest.mark.parametrize(
    "expires_in",
    [timedelta(days=30, minutes=1), timedelta(days=20), timedelta(days=7, minutes=1), None],
)
def test_a_token_between_warnings_or_without_expiry_gets_nothing(owner, org, expires_in):
    make_token(owner, org, expires_in=expires_in)

    send_expiry_notices()

    assert notices() == []


def test_a_token_gets_no_warning_for_a_window_longer_than_its_life(owner, org):
    make_token(owner, org, expires_in=timedelta(days=6), lived=timedelta(hours=12))
    make_token(owner, org, expires_in=timedelta(days=29), lived=timedelta(hours=12))
    short = make_token(owner, org, expires_in=timedelta(hours=20), lived=timedelta(days=2))

    send_expiry_notices()

    assert [key for _, key in notices()] == [f"token_expiring:{short.id}:1:2026-11-25"]


def test_a_late_scan_sends_the_nearest_warning_only(owner, org):
    """With 3 days left (the 7-day warning was missed), the owner gets one 7-day warning."""
    token = make_token(owner, org, expires_in=timedelta(days=6))

    send_expiry_notices()

    assert notices() == [("token_expiring", f"token_expiring:{token.id}:7:2026-11-30")]


def test_an_expired_token_gets_one_notice_on_the_day(owner, org):
    token = make_token(owner, org, expires_in=-timedelta(hours=3))
    make_token(owner, org, expires_in=-timedelta(days=10))  # long gone: no late notice

    send_expiry_notices()

    assert notices() == [("token_expired", f"token_expired:{token.id}:2026-11-24")]


def test_revoked_tokens_get_no_expiry_notices(owner, org):
    make_token(owner, org, expires_in=timedelta(days=7), revoked_at=NOW - timedelta(days=1))
    make_token(owner, org, expires_in=-timedelta(hours=1), revoked_at=NOW - timedelta(days=1))

    send_expiry_notices()

    assert notices() == []


def test_a_user_who_turned_reminders_off_gets_none(owner, org):
    owner.wants_expiry_reminders = False
    owner.save()
    make_token(owner, org, expires_in=timedelta(days=7))
    make_token(owner, org, expires_in=-timedelta(hours=1))

    send_expiry_notices()

    assert notices() == []


def test_running_the_scan_again_sends_nothing_new(owner, org, django_capture_on_commit_callbacks):
    make_token(owner, org, expires_in=timedelta(days=7))
    make_token(owner, org, expires_in=timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert send_expiry_notices() == 2
        assert send_expiry_notices() == 0

    assert len(mail.outbox) == 2


def test_the_next_warning_comes_when_the_next_window_opens(owner, org):
    token = make_token(owner, org, expires_in=timedelta(days=30))
    send_expiry_notices()

    with time_machine.travel(NOW + timedelta(days=23), tick=False):
        send_expiry_notices()
    with time_machine.travel(NOW + timedelta(days=29, hours=1), tick=False):
        send_expiry_notices()
    with time_machine.travel(NOW + timedelta(days=30, hours=1), tick=False):
        send_expiry_notices()

    assert [key.split(":", 2)[2] for _, key in notices()] == [
        "2026-12-24",
        "1:2026-12-24",
        "30:2026-12-24",
        "7:2026-12-24",
    ]
    assert {kind for kind, _ in notices()} == {"token_expired", "token_expiring"}
    assert all(str(token.id) in key for _, key in notices())


def test_the_warning_email_names_the_token_and_says_how_long_is_left(
    owner, org, django_capture_on_commit_callbacks
):
    make_token(owner, org, expires_in=timedelta(days=6, hours=20), name="Crane feed")

    with django_capture_on_commit_callbacks(execute=True):
        send_expiry_notices_task()

    [message] = mail.outbox
    assert message.to == [owner.email]
    assert message.subject == "Your Quaygate token Crane feed expires in 7 days"
    assert "Port of Rotterdam" in message.body
    assert "/tokens/" in message.body


def test_batches_walk_every_token_once_even_with_equal_expiry_times(owner, org, member):
    for index in range(7):
        make_token(owner if index % 2 else member, org, expires_in=timedelta(days=7))

    assert send_expiry_notices(batch_size=3) == 7
    assert Notification.objects.count() == 7


def test_the_scan_costs_a_fixed_number_of_queries_per_batch(owner, org, django_assert_num_queries):
    for _ in range(5):
        make_token(owner, org, expires_in=timedelta(days=7))

    # Per window: one page of tokens (with owner and organisation joined); for the 7-day window's
    # batch also: existing keys, savepoint, insert, new ids, release.
    with django_assert_num_queries(4 + 5):
        send_expiry_notices(batch_size=10)
