"""Sudo mode: powerful changes ask for the password again when the last entry is old.

Creating or regenerating a token and changing the token policy make a new secret or widen what
secrets may do. A session left open on a shared screen must not be enough for that, so those
views need a password typed in the last ten minutes (at sign-in or on the sudo page), as
GitHub's sudo mode does. The timestamp lives in the session, so signing out ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

SESSION_KEY = "qg_sudo_at"
WINDOW_SECONDS = 10 * 60


def mark(request: HttpRequest) -> None:
    """The user has just typed their password."""
    request.session[SESSION_KEY] = int(time.time())


def is_fresh(request: HttpRequest) -> bool:
    entered = request.session.get(SESSION_KEY)
    if not isinstance(entered, int):
        return False
    return 0 <= time.time() - entered <= WINDOW_SECONDS


def safe_next(request: HttpRequest, candidate: str | None, *, default: str = "/") -> str:
    """`candidate` if it is a path on this site, else `default` (no open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def confirm_url(next_path: str) -> str:
    return f"{reverse('sudo')}?{urlencode({'next': next_path})}"


def sudo_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send the user to confirm their password first when the last entry is stale.

    Put it inside @login_required. A stale POST is not carried out: the user confirms, comes back
    to the form (a GET of the same address) and submits again, knowingly.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if is_fresh(request):
            return view(request, *args, **kwargs)
        if request.method == "POST":
            messages.info(request, "Confirm your password, then submit the form again.")
        return HttpResponseRedirect(confirm_url(request.get_full_path()))

    return wrapper
