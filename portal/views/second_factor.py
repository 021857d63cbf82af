"""The second step of signing in, and sudo mode for people with a second factor.

A right password for an account with 2FA leads here (portal.second_step holds who, for five
minutes, without signing in). The person answers with a passkey, an authenticator app's code or
a recovery code. Wrong answers are limited per account and per address exactly like wrong
passwords (portal.views.auth's limits, their own counters), so the second step cannot be
guessed faster than the first.
"""

from __future__ import annotations

import json

import django_otp
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import User
from members import security
from portal import second_step, sudo
from portal.two_factor_forms import CodeForm
from portal.views.auth import (
    SIGN_IN_RATE_PER_ACCOUNT,
    SIGN_IN_RATE_PER_IP,
    SUDO_LIMIT,
    _client,
    _count_failure,
    _ip_key,
    _limited,
    confirm_password,
)
from tokens.actors import Actor
from twofactor import passkeys
from twofactor import services as two_factor
from twofactor.models import PasskeyDevice

WRONG_CODE = "That code is not right. Check the time on your phone, or use a recovery code."
TOO_MANY = "Too many wrong codes. Wait 15 minutes and try again."


def _pending_key(group: str, request: HttpRequest) -> str:
    state = second_step.pending(request) or {}
    return str(state.get("user", "none"))


SECOND_STEP_LIMITS = {
    "ip": (_ip_key, SIGN_IN_RATE_PER_IP),
    "account": (_pending_key, SIGN_IN_RATE_PER_ACCOUNT),
}


def _actor(request: HttpRequest, user: User) -> Actor:
    return Actor.for_user(user, **_client(request))


def _sign_in(request: HttpRequest, user: User, device) -> str:
    """Sign in for real, with the device in the session (django-otp: the admin's check)."""
    state = second_step.finish(request) or {}
    login(request, user, backend=state.get("backend") or None)  # cycles the session key
    django_otp.login(request, device)
    sudo.mark(request, second_factor=True)
    security.record_sign_in(user, succeeded=True, **_client(request))
    return sudo.safe_next(request, state.get("next"), default=reverse("dashboard"))


def _failed(request: HttpRequest, user: User) -> None:
    _count_failure(request, "sign-in-2fa", SECOND_STEP_LIMITS)
    security.record_sign_in(user, succeeded=False, **_client(request))


def _has_passkeys(user: User) -> bool:
    return PasskeyDevice.objects.filter(user=user, confirmed=True).exists()


@never_cache
@sensitive_post_parameters("code")
def sign_in_second_step(request: HttpRequest) -> HttpResponse:
    user = second_step.pending_user(request)
    if user is None:
        messages.info(request, "Sign in again: the first step was too long ago.")
        return HttpResponseRedirect(reverse("login"))
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if _limited(request, "sign-in-2fa", SECOND_STEP_LIMITS):
            context = {"form": CodeForm(), "rate_limited": True, "pending": user}
            context["has_passkeys"] = _has_passkeys(user)
            return render(request, "registration/second_step.html", context, status=429)
        if form.is_valid():
            device = two_factor.verify_code(
                user, code=form.cleaned_data["code"], actor=_actor(request, user)
            )
            if device is not None:
                return HttpResponseRedirect(_sign_in(request, user, device))
            form.add_error("code", WRONG_CODE)
        _failed(request, user)
        status = 400
    context = {"form": form, "pending": user, "has_passkeys": _has_passkeys(user)}
    return render(request, "registration/second_step.html", context, status=status)


def _options(request: HttpRequest, user: User, *, purpose: str) -> JsonResponse:
    options, challenge = passkeys.authentication_options(
        user, party=second_step.relying_party(request)
    )
    second_step.remember_challenge(request, purpose=purpose, challenge=challenge)
    return JsonResponse(json.loads(options))


def _answer(request: HttpRequest) -> str:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return ""
    credential = body.get("credential") if isinstance(body, dict) else None
    return json.dumps(credential) if isinstance(credential, dict) else ""


def _passkey(request: HttpRequest, user: User, *, purpose: str) -> PasskeyDevice | None:
    challenge = second_step.take_challenge(request, purpose=purpose)
    credential = _answer(request)
    if challenge is None or not credential:
        return None
    return passkeys.verified_passkey(
        user, credential, challenge=challenge, party=second_step.relying_party(request)
    )


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@never_cache
@require_POST
def sign_in_passkey_options(request: HttpRequest) -> JsonResponse:
    user = second_step.pending_user(request)
    if user is None:
        return _refused("Sign in again: the first step was too long ago.", 403)
    return _options(request, user, purpose="sign-in")


@never_cache
@require_POST
def sign_in_passkey(request: HttpRequest) -> JsonResponse:
    user = second_step.pending_user(request)
    if user is None:
        return _refused("Sign in again: the first step was too long ago.", 403)
    if _limited(request, "sign-in-2fa", SECOND_STEP_LIMITS):
        return _refused(TOO_MANY, 429)
    device = _passkey(request, user, purpose="sign-in")
    if device is None:
        _failed(request, user)
        return _refused("That passkey was not accepted. Try again, or use a code.")
    return JsonResponse({"redirect": _sign_in(request, user, device)})


# --- sudo mode ------------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("code", "password")
@login_required
def confirm(request: HttpRequest) -> HttpResponse:
    """Sudo mode: the password for people without 2FA; the second factor for people with it."""
    if not request.user.two_factor_enabled:
        return confirm_password(request)
    next_url = sudo.safe_next(
        request, request.POST.get("next") or request.GET.get("next"), default=reverse("dashboard")
    )
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if _limited(request, "sudo", SUDO_LIMIT):
            messages.error(request, TOO_MANY)
            form, status = CodeForm(), 429
        elif form.is_valid() and two_factor.verify_code(
            request.user, code=form.cleaned_data["code"], actor=Actor.from_request(request)
        ):
            sudo.mark(request, second_factor=True)
            return HttpResponseRedirect(next_url)
        else:
            form.add_error("code", WRONG_CODE)
            _count_failure(request, "sudo", SUDO_LIMIT)
            status = 400
    context = {"form": form, "next": next_url, "has_passkeys": _has_passkeys(request.user)}
    return render(request, "registration/sudo_second_factor.html", context, status=status)


@never_cache
@require_POST
@login_required
def sudo_passkey_options(request: HttpRequest) -> JsonResponse:
    return _options(request, request.user, purpose="sudo")


@never_cache
@require_POST
@login_required
def sudo_passkey(request: HttpRequest) -> JsonResponse:
    if _limited(request, "sudo", SUDO_LIMIT):
        return _refused(TOO_MANY, 429)
    if _passkey(request, request.user, purpose="sudo") is None:
        _count_failure(request, "sudo", SUDO_LIMIT)
        return _refused("That passkey was not accepted. Try again, or use a code.")
    sudo.mark(request, second_factor=True)
    next_url = request.GET.get("next")
    return JsonResponse(
        {"redirect": sudo.safe_next(request, next_url, default=reverse("dashboard"))}
    )
