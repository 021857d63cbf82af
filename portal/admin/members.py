"""Ops console: invitations (read-only), with a Revoke action.

Nothing here changes an invitation itself: the action calls members.invitations
.revoke_invitation as ops, which writes the audit event. The link's secret is never stored and
its hash is never shown. The change permission on invitations means "may revoke" (see
members/migrations/0002_ops_invitations.py); the form stays display-only for everyone.
"""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin_utils import ReadOnlyAdminMixin
from members import invitations as invitation_services
from members.exceptions import MemberError
from members.models import Invitation
from portal.admin.revoking import BOTH_LOCATIONS
from tokens.actors import Actor

# One transaction each; an organisation has at most 50 pending, so this is a generous batch.
MAX_REVOKE_AT_ONCE = 500


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return Invitation.State.choices

    def queryset(self, request, queryset):
        match self.value():
            case Invitation.State.PENDING:
                return queryset.pending()
            case Invitation.State.ACCEPTED:
                return queryset.filter(accepted_at__isnull=False)
            case Invitation.State.REVOKED:
                return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
            case Invitation.State.EXPIRED:
                return queryset.expired()
        return queryset


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "state_label",
        "invited_by",
        "created_at",
        "expires_at",
    ]
    list_select_related = ["organization", "invited_by"]
    list_filter = [StateFilter, "organization", "role"]
    search_fields = ["email"]
    search_help_text = "The invited address, or part of it."
    ordering = ["-id"]
    actions = ["revoke_selected"]
    # Everything but secret_hash: the hash cannot be turned into a link, but there is no
    # reason to put it on a page either.
    fields = [
        "email",
        "organization",
        "role",
        "state_label",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    readonly_fields = fields

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("members.change_invitation")

    @admin.action(
        description="Revoke this invitation",
        description_plural="Revoke selected invitations",
        permissions=["revoke"],
        location=BOTH_LOCATIONS,
    )
    def revoke_selected(self, request, queryset):
        pending = queryset.pending().select_related("organization").order_by("pk")
        if pending[: MAX_REVOKE_AT_ONCE + 1].count() > MAX_REVOKE_AT_ONCE:
            self.message_user(
                request,
                f"More than {MAX_REVOKE_AT_ONCE} invitations selected: filter the list first.",
                messages.ERROR,
            )
            return
        actor = Actor.from_request(request, ops=True)
        revoked, refused = 0, []
        for invitation in pending:
            try:
                invitation_services.revoke_invitation(invitation, actor=actor)
            except MemberError as error:  # accepted or revoked since the list was shown
                refused.append(f"{invitation.email}: {error.message}")
            else:
                revoked += 1
        skipped = queryset.count() - revoked - len(refused)
        if revoked:
            self.message_user(
                request,
                f"Revoked {revoked} invitation{'s' if revoked != 1 else ''}: "
                f"{'their links no longer work' if revoked != 1 else 'its link no longer works'}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Not pending (accepted, revoked or expired), so left alone: {skipped} of "
                "the selected invitations.",
                messages.INFO,
            )
        for line in refused:
            self.message_user(request, f"Not revoked: {line}", messages.ERROR)

    @admin.display(description="state")
    def state_label(self, obj: Invitation) -> str:
        return Invitation.State(obj.state).label
