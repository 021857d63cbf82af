"""A new secret waits in the session only until its page shows it: five minutes at most, and
never past the next request of the session or signing out."""

import time

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from django.urls import reverse

from portal.middleware import (
    PENDING_SECRET_SECONDS,
    SESSION_KEY,
    PendingSecretMiddleware,
)
from tokens.models import PersonalAccessToken

pytestmark = pytest.mark.django_db

MIDDLEWARE = "portal.middleware.PendingSecretMiddleware"


@pytest.fixture
def pending_secret_middleware(settings) -> None:
    """The middleware where it belongs (after the session and auth middleware), whether or not
    portal.settings has it yet. Ask for it before the client's first request."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        after = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE[: after + 1],
            MIDDLEWARE,
            *settings.MIDDLEWARE[after + 1 :],
        ]


def create(client, new_token_data) -> tuple[str, str]:
    """Create a token and do not follow the redirect: (the secret page, the pending secret)."""
    location = client.post(reverse("token_new"), new_token_data())["Location"]
    return location, client.session[SESSION_KEY]["secret"]


def stored_anywhere(secret: str) -> bool:
    """Whether any session row in the database holds the secret."""
    return any(secret in str(row.get_decoded()) for row in Session.objects.all())


# --- five minutes at most -----------------------------------------------------------------------


def test_a_secret_is_shown_when_its_page_opens_within_five_minutes(
    client, owner, org, sign_in, new_token_data, find_secret
):
    with time_machine.travel(time.time(), tick=False) as traveller:
        sign_in(client, owner)
        location, secret = create(client, new_token_data)
        traveller.shift(PENDING_SECRET_SECONDS - 1)
        assert find_secret(client.get(location).content.decode()) == secret


def test_a_secret_older_than_five_minutes_is_refused_and_deleted(
    client, owner, org, sign_in, new_token_data, find_secret
):
    with time_machine.travel(time.time(), tick=False) as traveller:
        sign_in(client, owner)
        location, secret = create(client, new_token_data)
        traveller.shift(PENDING_SECRET_SECONDS + 1)
        html = client.get(location).content.decode()
    assert not find_secret(html)
    assert "The secret is no longer shown" in html and "five minutes at most" in html
    assert SESSION_KEY not in client.session
    assert not stored_anywhere(secret)
    # The token itself is fine: only the chance to see its secret has passed.
    assert PersonalAccessToken.objects.get(owner=owner).revoked_at is None


def test_a_pending_secret_from_the_future_is_refused(
    client, owner, org, sign_in, new_token_data, find_secret
):
    # A clock that jumped back must not stretch the window.
    with time_machine.travel(time.time(), tick=False) as traveller:
        sign_in(client, owner)
        location, _ = create(client, new_token_data)
        traveller.shift(-60)
        assert not find_secret(client.get(location).content.decode())


def test_a_pending_secret_without_a_timestamp_is_refused(
    client, owner, org, sign_in, new_token_data, find_secret
):
    # As a session written before the timestamp existed would hold it.
    sign_in(client, owner)
    location, secret = create(client, new_token_data)
    session = client.session
    session[SESSION_KEY] = {"token_id": session[SESSION_KEY]["token_id"], "secret": secret}
    session.save()
    assert not find_secret(client.get(location).content.decode())
    assert not stored_anywhere(secret)


# --- never past sign-out or the next request ----------------------------------------------------


def test_signing_out_deletes_a_pending_secret(client, owner, org, sign_in, new_token_data):
    sign_in(client, owner)
    _, secret = create(client, new_token_data)
    assert stored_anywhere(secret)
    client.post(reverse("logout"))
    assert not stored_anywhere(secret)


def test_any_other_page_deletes_a_pending_secret(
    pending_secret_middleware, client, owner, org, sign_in, new_token_data, find_secret
):
    sign_in(client, owner)
    location, secret = create(client, new_token_data)
    assert client.get(reverse("dashboard")).status_code == 200
    assert not stored_anywhere(secret)
    assert not find_secret(client.get(location).content.decode())


@pytest.mark.parametrize("url_name", ["account", "organizations", "api:docs"])
def test_pages_outside_the_token_pages_delete_it_too(
    pending_secret_middleware, client, owner, org, sign_in, new_token_data, url_name
):
    sign_in(client, owner)
    _, secret = create(client, new_token_data)
    client.get(reverse(url_name))
    assert not stored_anywhere(secret)


def test_a_post_to_the_secret_page_deletes_it(
    pending_secret_middleware, client, owner, org, sign_in, new_token_data, find_secret
):
    sign_in(client, owner)
    location, secret = create(client, new_token_data)
    client.post(location)
    assert not stored_anywhere(secret)
    assert not find_secret(client.get(location).content.decode())


def test_the_redirect_to_its_page_still_shows_it(
    pending_secret_middleware, client, owner, org, sign_in, new_token_data, find_secret
):
    sign_in(client, owner)
    response = client.post(reverse("token_new"), new_token_data(), follow=True)
    secret = find_secret(response.content.decode())
    assert secret is not None
    assert not stored_anywhere(secret)


def test_the_middleware_leaves_requests_without_a_session_alone():
    request = RequestFactory().get("/")
    reached = []
    PendingSecretMiddleware(lambda r: reached.append(r) or "response")(request)
    assert reached == [request]


def test_the_site_runs_the_pending_secret_middleware_after_sessions_and_auth():
    middleware = django_settings.MIDDLEWARE
    assert MIDDLEWARE in middleware
    assert middleware.index(MIDDLEWARE) > middleware.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )
