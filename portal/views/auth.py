"""Signing in and out, password reset and sudo confirmation.

Sign-in is limited per client address and per account with django-ratelimit. Only failed
attempts count, so a person who signs in often is never locked out by their own successes; once
an address or an account has failed too often, every attempt (even a right one) gets a 429 page
that says so until the window passes.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_ratelimit.core import get_usage

from accounts.models import Organization, User
from core.net import client_ip
from members import security
from portal import second_step, sudo
from portal.forms import ChangePasswordForm, SignInForm, SudoForm

# Failed attempts allowed per window. An address may be a whole office behind one NAT, so it
# gets more than one account does.
SIGN_IN_RATE_PER_IP = "30/15m"
SIGN_IN_RATE_PER_ACCOUNT = "10/15m"
RESET_RATE_PER_IP = "10/h"
RESET_RATE_PER_ACCOUNT = "3/h"
SUDO_RATE_PER_USER = "10/15m"
PASSWORD_CHANGE_RATE_PER_USER = "10/15m"  # noqa: S105 - a rate, not a password

logger = logging.getLogger(__name__)


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _account_key(group: str, request: HttpRequest) -> str:
    field = "email" if "email" in request.POST else "username"
    return request.POST.get(field, "").strip().lower()


def _user_key(group: str, request: HttpRequest) -> str:
    return str(request.user.pk)


def _limited(request: HttpRequest, group: str, rates: dict) -> bool:
    """True when any limit of `group` has used up its failures for the current window."""
    for name, (key, rate) in rates.items():
        try:
            usage = get_usage(request, group=f"{group}:{name}", key=key, rate=rate, method="POST")
        except Exception:  # the cache is down: sign-in goes on; Argon2 still slows guessing
            logger.warning("Sign-in limit %s unavailable: cache error", group, exc_info=True)
            continue
        if usage is not None and usage["count"] >= usage["limit"]:
            return True
    return False


def _count_failure(request: HttpRequest, group: str, rates: dict) -> None:
    for name, (key, rate) in rates.items():
        try:
            get_usage(
                request, group=f"{group}:{name}", key=key, rate=rate, method="POST", increment=True
            )
        except Exception:
            logger.warning("Sign-in limit %s unavailable: cache error", group, exc_info=True)


SIGN_IN_LIMITS = {
    "ip": (_ip_key, SIGN_IN_RATE_PER_IP),
    "account": (_account_key, SIGN_IN_RATE_PER_ACCOUNT),
}
RESET_IP_LIMIT = {"ip": (_ip_key, RESET_RATE_PER_IP)}
RESET_ACCOUNT_LIMIT = {"account": (_account_key, RESET_RATE_PER_ACCOUNT)}
SUDO_LIMIT = {"user": (_user_key, SUDO_RATE_PER_USER)}
PASSWORD_CHANGE_LIMIT = {"user": (_user_key, PASSWORD_CHANGE_RATE_PER_USER)}


def _client(request: HttpRequest) -> dict:
    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")}


def _account_named(email: str) -> User | None:
    email = (email or "").strip()
    if not email:
        return None
    return User.objects.filter(email__iexact=email, is_active=True).first()


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True
    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _limited(request, "sign-in", SIGN_IN_LIMITS):
            return self.refuse(request)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: SignInForm) -> HttpResponse:
        user = form.get_user()
        if user.two_factor_enabled:
            # Not signed in yet: the second step (portal.views.second_factor) does that.
            second_step.begin(self.request, user, next_url=self.get_success_url())
            return HttpResponseRedirect(reverse("login_second_step"))
        response = super().form_valid(form)  # signs in (and cycles the session key)
        sudo.mark(self.request)
        security.record_sign_in(user, succeeded=True, **_client(self.request))
        return self._enrol_first(user) or response

    def _enrol_first(self, user: User) -> HttpResponse | None:
        """An organisation of theirs requires 2FA they lack: say so, and go to where they
        set it up (the one thing they may do there)."""
        names = list(
            Organization.objects.filter(
                memberships__user=user, two_factor_required_at__isnull=False
            ).values_list("name", flat=True)
        )
        if not names:
            return None
        messages.warning(
            self.request,
            f"{', '.join(names)} requires two-factor authentication. Set it up here: until "
            "then you can do nothing there, and your tokens there will stop working.",
        )
        return HttpResponseRedirect(reverse("security"))

    def form_invalid(self, form: SignInForm) -> HttpResponse:
        _count_failure(self.request, "sign-in", SIGN_IN_LIMITS)
        security.record_sign_in(
            _account_named(self.request.POST.get("username", "")),
            succeeded=False,
            **_client(self.request),
        )
        return super().form_invalid(form)

    def refuse(self, request: HttpRequest) -> HttpResponse:
        form = self.get_form_class()(
            request=request, initial={"username": request.POST.get("username", "")[:254]}
        )
        context = self.get_context_data(form=form, rate_limited=True)
        return render(request, self.template_name, context, status=429)


class ResetPasswordView(auth_views.PasswordResetView):
    """Password reset by email, limited so it can't be used to flood someone's inbox.

    Over the per-address limit the page says so; over the per-account limit it answers as
    usual but sends nothing, so the page never tells whether an address has an account.
    """

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def get_extra_email_context(self) -> dict:
        return {"site_url": settings.SITE_URL}

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _limited(request, "password-reset", RESET_IP_LIMIT):
            form = self.get_form()
            context = self.get_context_data(form=form, rate_limited=True)
            return render(request, self.template_name, context, status=429)
        _count_failure(request, "password-reset", RESET_IP_LIMIT)  # every request counts
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        if _limited(self.request, "password-reset", RESET_ACCOUNT_LIMIT):
            return HttpResponseRedirect(self.get_success_url())
        _count_failure(self.request, "password-reset", RESET_ACCOUNT_LIMIT)
        self.extra_email_context = self.get_extra_email_context()
        return super().form_valid(form)


@sensitive_post_parameters("password")
@never_cache
@login_required
def confirm_password(request: HttpRequest) -> HttpResponse:
    """Sudo mode: type the password again before a powerful change."""
    next_url = sudo.safe_next(
        request, request.POST.get("next") or request.GET.get("next"), default=reverse("dashboard")
    )
    form = SudoForm(request.POST if request.method == "POST" else None, user=request.user)
    status = 200
    if request.method == "POST":
        if _limited(request, "sudo", SUDO_LIMIT):
            messages.error(request, "Too many wrong passwords. Wait 15 minutes and try again.")
            return render(
                request,
                "registration/sudo.html",
                {"form": SudoForm(user=request.user), "next": next_url},
                status=429,
            )
        if form.is_valid():
            sudo.mark(request)
            return HttpResponseRedirect(next_url)
        _count_failure(request, "sudo", SUDO_LIMIT)
        status = 400
    return render(
        request, "registration/sudo.html", {"form": form, "next": next_url}, status=status
    )


class ChangePasswordView(auth_views.PasswordChangeView):
    """Change the password, knowing the current one (Django's view: the session stays signed
    in, every other session of the account is signed out by the new password hash).

    Wrong current passwords are limited like the sudo page's: a session left open must not be a
    way to guess the password. The new password was just typed, so the sudo window opens.
    """

    form_class = ChangePasswordForm
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _limited(request, "password-change", PASSWORD_CHANGE_LIMIT):
            context = self.get_context_data(form=self.get_form_class()(user=request.user))
            context["rate_limited"] = True
            return render(request, self.template_name, context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: ChangePasswordForm) -> HttpResponse:
        response = super().form_valid(form)  # saves, keeps this session (cycling its key)
        security.record_password_change(form.user, how="changed", **_client(self.request))
        sudo.mark(self.request)
        messages.success(
            self.request,
            "Your password is changed. Browsers signed in as you elsewhere are signed out.",
        )
        return response

    def form_invalid(self, form: ChangePasswordForm) -> HttpResponse:
        if form.has_error("old_password"):
            _count_failure(self.request, "password-change", PASSWORD_CHANGE_LIMIT)
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class ResetPasswordConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset-link page; a password set through it is a security notice and an audit
    event, as a change from the account page is."""

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        security.record_password_change(form.user, how="reset", **_client(self.request))
        return response
