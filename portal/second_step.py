"""The state between the password and the second factor, and the passkey challenge, in the
session (never in a URL or a cookie of their own).

After a right password, a person with 2FA is *not* signed in: the session holds only their id
(and the sign-in backend, and where to go next) for five minutes. `login()` happens once the
second factor checks out, so no page, and no token, is reachable in between.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

from accounts.models import User
from twofactor.passkeys import RelyingParty

PENDING_KEY = "qg_2fa_pending"
CHALLENGE_KEY = "qg_webauthn_challenge"
PENDING_SECONDS = 5 * 60
CHALLENGE_SECONDS = 5 * 60


def begin(request: HttpRequest, user: User, *, next_url: str) -> None:
    request.session.cycle_key()  # a fresh key for the half-signed-in session
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", ""),
        "next": next_url,
        "at": int(time.time()),
    }


def pending(request: HttpRequest) -> dict | None:
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict) or not isinstance(state.get("at"), int):
        return None
    if not 0 <= time.time() - state["at"] <= PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    return state


def pending_user(request: HttpRequest) -> User | None:
    state = pending(request)
    if state is None:
        return None
    return User.objects.filter(pk=state["user"], is_active=True, two_factor_enabled=True).first()


def finish(request: HttpRequest) -> dict | None:
    return request.session.pop(PENDING_KEY, None)


def remember_challenge(request: HttpRequest, *, purpose: str, challenge: str) -> None:
    request.session[CHALLENGE_KEY] = {
        "purpose": purpose,
        "challenge": challenge,
        "at": int(time.time()),
    }


def take_challenge(request: HttpRequest, *, purpose: str) -> str | None:
    """The challenge of the ceremony `purpose`, once: a replayed answer finds none."""
    state = request.session.pop(CHALLENGE_KEY, None)
    if not isinstance(state, dict) or state.get("purpose") != purpose:
        return None
    if not 0 <= time.time() - state.get("at", 0) <= CHALLENGE_SECONDS:
        return None
    return state.get("challenge")


def relying_party(request: HttpRequest) -> RelyingParty:
    """This site as the browser sees it: Django has checked the host against ALLOWED_HOSTS."""
    host = request.get_host()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return RelyingParty(id=name.strip("[]"), origin=f"{request.scheme}://{host}")
