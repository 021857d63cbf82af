"""The ops console's site: Django's admin site, with a second factor required (issue 16).

`portal.admin_apps.QuaygateAdminConfig` (in INSTALLED_APPS instead of "django.contrib.admin") makes it the
default `admin.site`, so every ModelAdmin registers on it as usual.

- Production (ADMIN_REQUIRES_TWO_FACTOR): staff must have passed a second factor in this
  session (django-otp's `is_verified()`, as its OTPAdminSite checks).
- The embedded default: only staff who enrolled a second factor need to have used it, so the
  demo's ops login works out of the box.

The admin's own sign-in form has no second step, so it refuses accounts with 2FA (and, in
production, everyone): they sign in on the portal, whose second step verifies the session.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html


def two_factor_ok(request: HttpRequest) -> bool:
    user = request.user
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return True
    return not settings.ADMIN_REQUIRES_TWO_FACTOR and not getattr(user, "two_factor_enabled", False)


class TwoFactorAdminAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.two_factor_enabled or settings.ADMIN_REQUIRES_TWO_FACTOR:
            raise ValidationError(
                format_html(
                    'The ops console needs your second factor: <a href="{}">sign in on the '
                    "portal</a> (set up two-factor authentication there first if you have "
                    "none), then come back.",
                    f"{reverse('login')}?next={reverse('admin:index')}",
                ),
                code="two_factor",
            )


class TwoFactorAdminSite(admin.AdminSite):
    login_form = TwoFactorAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor_ok(request)
