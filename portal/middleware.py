"""The secret between the POST that made it and the one GET that shows it.

A new or regenerated secret must reach its owner's screen once, and through a redirect (so a
reload never re-submits the form and the secret never appears in a URL). It waits in the
session for that redirect, and nowhere else. The session row is on disk, so it waits as short a
time as possible:

- it is taken (deleted) by the GET of its own token's secret page;
- any other request of the session deletes it first (PendingSecretMiddleware): a redirect that
  was never followed does not leave it behind for the session's twelve hours;
- it is refused and deleted when older than PENDING_SECRET_SECONDS, even if nothing else ran;
- signing out flushes the whole session, the secret with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

SESSION_KEY = "qg_new_secret"
# Long enough to follow a redirect on a slow connection; short enough that a forgotten one
# doesn't linger on disk.
PENDING_SECRET_SECONDS = 5 * 60


def remember_secret(request: HttpRequest, *, token_id: int, secret: str) -> None:
    request.session[SESSION_KEY] = {"token_id": token_id, "secret": secret, "at": time.time()}


def _usable(pending: object, token_id: int | None = None) -> bool:
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return False
    if token_id is not None and pending.get("token_id") != token_id:
        return False
    return 0 <= time.time() - pending["at"] <= PENDING_SECRET_SECONDS


def take_secret(request: HttpRequest, *, token_id: int) -> str | None:
    """The pending secret of `token_id`, once; None when there is none, it is another token's,
    or it is too old. Whatever was pending is gone afterwards."""
    pending = request.session.pop(SESSION_KEY, None)
    return pending["secret"] if _usable(pending, token_id) else None


def _secret_page(pending: object) -> str | None:
    if not isinstance(pending, dict) or not isinstance(pending.get("token_id"), int):
        return None
    return reverse("token_secret", args=[pending["token_id"]])


class PendingSecretMiddleware:
    """Drop a pending secret on every request of the session except the GET that shows it.

    Goes after SessionMiddleware. Reads the session only when the request has one (a request
    without a session cookie costs nothing); a page that uses the session loads it anyway.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key and SESSION_KEY in session:
            pending = session[SESSION_KEY]
            its_page = request.method == "GET" and request.path == _secret_page(pending)
            if not (its_page and _usable(pending)):
                del session[SESSION_KEY]
        return self.get_response(request)
