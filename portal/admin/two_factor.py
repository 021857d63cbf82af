"""Ops console and two-factor authentication (issue 16).

- Ops see whether a person has 2FA and can reset it for someone who lost every device, with a
  reason: twofactor.services.reset_two_factor (audit event, email to the person, a new grace
  period where an organisation requires 2FA). Ops may not browse people (the Ops group holds no
  user permission), so they get "Two-factor accounts": email, name, on/off, last sign-in and the
  reset action, nothing else. Superusers also have the column, filter and action on People.
  Device rows are never shown: a TOTP key is a secret, and passkeys and hashed codes are of no
  use to ops. django-otp's own admin pages for them are unregistered.
- /admin/ itself needs a second factor: portal.admin_site.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from core.admin_utils import ask_reason
from portal.admin.revoking import BOTH_LOCATIONS
from tokens.actors import Actor
from twofactor import services as two_factor
from twofactor.models import TwoFactorAccount

MAX_RESET_AT_ONCE = 20

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


def may_reset(request: HttpRequest) -> bool:
    """Those who may revoke tokens (the Ops group) or change people (superusers)."""
    return request.user.has_perm("tokens.change_personalaccesstoken") or request.user.has_perm(
        "portal.change_user"
    )


def reset_two_factor_action(model_admin, request: HttpRequest, queryset: QuerySet[User]):
    people = list(queryset.filter(two_factor_enabled=True).order_by("pk")[: MAX_RESET_AT_ONCE + 1])
    if not people:
        model_admin.message_user(
            request, "Nobody selected has two-factor authentication.", messages.INFO
        )
        return None
    if len(people) > MAX_RESET_AT_ONCE:
        model_admin.message_user(
            request, f"Reset at most {MAX_RESET_AT_ONCE} people at once.", messages.ERROR
        )
        return None
    reason = ask_reason(
        model_admin,
        request,
        objects=people,
        title="Reset two-factor authentication",
        button=f"Reset for {len(people)} {'person' if len(people) == 1 else 'people'}",
        help_text="Required. Every second factor and recovery code of the account is removed; "
        "the person reads this reason in the email, and it stays in the audit log. Check who "
        "is asking first: a reset is how an account thief gets past 2FA.",
    )
    if not isinstance(reason, str):
        return reason
    actor = Actor.from_request(request, ops=True)
    done = sum(two_factor.reset_two_factor(person, actor=actor, reason=reason) for person in people)
    model_admin.message_user(
        request,
        f"Two-factor authentication reset for {done} {'person' if done == 1 else 'people'}; "
        "they are being emailed.",
        messages.SUCCESS,
    )
    return None


reset_two_factor_action = admin.action(
    description="Reset two-factor authentication…",
    permissions=["reset_two_factor"],
    location=BOTH_LOCATIONS,
)(reset_two_factor_action)


@admin.register(TwoFactorAccount)
class TwoFactorAccountAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "two_factor_enabled", "last_login", "is_active"]
    list_filter = ["two_factor_enabled", "is_active"]
    search_fields = ["email", "full_name"]
    fields = ["email", "full_name", "two_factor_enabled", "last_login", "is_active"]
    readonly_fields = fields
    actions = [reset_two_factor_action]
    show_facets = admin.ShowFacets.NEVER

    # Seen and acted on by those who may reset (Ops, superusers); never added, edited, deleted.
    def has_module_permission(self, request) -> bool:
        return may_reset(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return may_reset(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_reset_two_factor_permission(self, request, obj=None) -> bool:
        return may_reset(request)
