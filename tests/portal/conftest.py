"""Portal page fixtures: a signed-in test client, tokens issued through the real service, the new
token form's data, and a way to find a secret on a page.

Each is a fixture returning a small function, so test modules import nothing from each other.
"""

import re
import time
from collections.abc import Callable

import pytest
from django.test import Client

from portal import sudo
from tokens import services
from tokens.actors import Actor

SECRET_RE = re.compile(r"qgp_[0-9A-Za-z]{36}")


def _sign_in(client: Client, user, *, fresh_password: bool = True) -> Client:
    client.force_login(user)
    if fresh_password:
        # As if the password had just been typed: the sudo window is open.
        session = client.session
        session[sudo.SESSION_KEY] = int(time.time())
        session.save()
    return client


@pytest.fixture
def sign_in() -> Callable[..., Client]:
    """sign_in(client, user, *, fresh_password=True) -> the client, signed in as `user`."""
    return _sign_in


def _issue(user, org, name: str = "sync", scopes=("fleet:read",), **kwargs) -> services.IssuedToken:
    return services.issue_token(
        owner=user,
        organization=org,
        name=name,
        scopes=list(scopes),
        actor=Actor.for_user(user),
        **kwargs,
    )


@pytest.fixture
def issue(db) -> Callable[..., services.IssuedToken]:
    """issue(user, org, name="sync", scopes=("fleet:read",), **settings) -> IssuedToken."""
    return _issue


def _new_token_data(**overrides) -> dict:
    data = {
        "name": "Berth planner",
        "description": "",
        "expiry": "30",
        "scopes": ["fleet:read", "alarms:write"],
        "terminal_access": "all",
        "allowed_ips": "",
        "rate_limit_per_hour": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def new_token_data() -> Callable[..., dict]:
    """new_token_data(**overrides) -> the POST data of a valid new-token form."""
    return _new_token_data


def _find_secret(html: str) -> str | None:
    found = SECRET_RE.search(html)
    return found.group(0) if found else None


@pytest.fixture
def find_secret() -> Callable[[str], str | None]:
    """find_secret(html) -> the first token secret in the page, or None."""
    return _find_secret


@pytest.fixture
def csrf_client() -> Client:
    """A test client that enforces CSRF checks as a browser's requests meet them."""
    return Client(enforce_csrf_checks=True)
