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
# Issue 16: when the second factor was last used. A person with 2FA is in sudo mode only
# through it: their password alone (a phished one, say) opens nothing powerful.
SECOND_FACTOR_KEY = "qg_sudo_2fa_at"
WINDOW_SECONDS = 10 * 60


def mark(request: HttpRequest, *, second_factor: bool = False) -> None:
    """The user has just typed their password, or (second_factor) passed their second factor."""
    now = int(time.time())
    request.session[SESSION_KEY] = now
    if second_factor:
        request.session[SECOND_FACTOR_KEY] = now


def _recent(value: object) -> bool:
    return isinstance(value, int) and 0 <= time.time() - value <= WINDOW_SECONDS


def is_fresh(request: HttpRequest) -> bool:
    if getattr(getattr(request, "user", None), "two_factor_enabled", False):
        return _recent(request.session.get(SECOND_FACTOR_KEY))
    return _recent(request.session.get(SESSION_KEY))


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
            messages.info(request, "Confirm it's you, then submit the form again.")
        return HttpResponseRedirect(confirm_url(request.get_full_path()))

    return wrapper
