"""The organisation's people: who is in it, inviting, roles, removing and leaving, and joining
by invitation (the only way to sign up).

Everyone in the organisation sees the list; only admins act. A person outside gets a 404 for
every page, a member a 404 for the admin actions. Each action is one service call
(members.services, members.invitations) that writes the audit event and queues the emails.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from accounts.models import Membership, User
from core.errors import ServiceError
from core.net import client_ip
from members import invitations
from members import services as member_services
from members.exceptions import InvitationError
from members.models import Invitation
from portal import selectors, sudo
from portal.forms import posted
from portal.member_forms import InviteForm, JoinForm, MemberSearchForm, RoleForm
from portal.views.organization import membership_or_404
from portal.views.paging import paginate, query_without_page
from tokens.actors import Actor

logger = logging.getLogger(__name__)

INVITES_PER_ADMIN = "20/h"
# The invitation's secret waits here between its link and the accept page, so that the page
# (and anything it loads or links to) never has the secret in its address: the same trick as
# Django's password reset (INTERNAL_RESET_SESSION_TOKEN).
INVITATION_SESSION_KEY = "qg_invitation"


def _admin_key(group: str, request: HttpRequest) -> str:
    return str(request.user.pk)


def _invites_left(request: HttpRequest) -> bool:
    """Count this invitation against the admin's hourly allowance; False once it is used up."""
    try:
        usage = get_usage(
            request, group="invite", key=_admin_key, rate=INVITES_PER_ADMIN, increment=True
        )
    except Exception:  # the cache is down: the 50-pending cap still bounds what one admin can do
        logger.warning("Invitation limit unavailable: cache error", exc_info=True)
        return True
    return usage is None or not usage["should_limit"]


def _members_page(
    request: HttpRequest, membership: Membership, *, invite_form=None, status: int = 200
) -> HttpResponse:
    organization = membership.organization
    search = MemberSearchForm(request.GET or None)
    q = search.cleaned_data["q"].strip() if search.is_valid() else ""
    context = {
        "membership": membership,
        "organization": organization,
        "search": search,
        "page": paginate(request, selectors.organization_members(organization, q=q)),
        "query": query_without_page(request),
        "invite_form": invite_form or InviteForm(),
        "invitations": (
            list(selectors.pending_invitations(organization)) if membership.is_admin else []
        ),
        "role_choices": Membership.Role.choices,
        "tab": "members",
    }
    return render(request, "portal/org_members.html", context, status=status)


@login_required
def members(request: HttpRequest, slug: str) -> HttpResponse:
    return _members_page(request, membership_or_404(request, slug))


@login_required
@sudo.sudo_required
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    if request.method != "POST":
        # Back from confirming the password (sudo sends a stale POST there as a GET): the form.
        return HttpResponseRedirect(reverse("org_members", args=[slug]))
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _members_page(request, membership, invite_form=form, status=400)
    if not _invites_left(request):
        form.add_error(
            None, "You have sent 20 invitations in the last hour. Wait a while, then try again."
        )
        return _members_page(request, membership, invite_form=form, status=429)
    try:
        issued = invitations.invite_member(
            membership.organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=Actor.from_request(request),
        )
    except ServiceError as error:
        form.add_error("email" if error.field in (None, "email") else None, error.message)
        return _members_page(request, membership, invite_form=form, status=400)
    messages.success(
        request, f"Invitation sent to {issued.invitation.email}. The link works for 7 days."
    )
    return HttpResponseRedirect(reverse("org_members", args=[slug]))


@login_required
@require_POST
def resend_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    return _act_on_invitation(
        request,
        slug,
        invitation_id,
        invitations.resend_invitation,
        "A new link went to {email}; the old one is dead.",
    )


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    return _act_on_invitation(
        request,
        slug,
        invitation_id,
        invitations.revoke_invitation,
        "The invitation to {email} is revoked.",
    )


def _act_on_invitation(request, slug, invitation_id, service, done: str) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    invitation = get_object_or_404(
        Invitation.objects.for_org(membership.organization), pk=invitation_id
    )
    try:
        service(invitation, actor=Actor.from_request(request))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(email=invitation.email))
    return HttpResponseRedirect(reverse("org_members", args=[slug]))


def _member_of(membership: Membership, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.filter(organization=membership.organization).select_related("user"),
        pk=membership_id,
    )


@login_required
@sudo.sudo_required
def change_role(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    target = _member_of(membership, membership_id)
    if request.method != "POST":  # back from confirming the password, as for invite
        return HttpResponseRedirect(reverse("org_members", args=[slug]))
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: organisation admin or member.")
        return HttpResponseRedirect(reverse("org_members", args=[slug]))
    try:
        changed = member_services.change_role(
            target, role=form.cleaned_data["role"], actor=Actor.from_request(request)
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{changed.user.email} is now {changed.get_role_display()}.")
        if changed.user_id == request.user.pk and not changed.is_admin:
            return HttpResponseRedirect(reverse("organization", args=[slug]))
    return HttpResponseRedirect(reverse("org_members", args=[slug]))


@login_required
@sudo.sudo_required
def remove_member(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    target = _member_of(membership, membership_id)
    if target.user_id == request.user.pk:
        return HttpResponseRedirect(reverse("org_leave", args=[slug]))
    if request.method == "POST":
        try:
            revoked = member_services.remove_member(target, actor=Actor.from_request(request))
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"{target.user.email} is no longer in {membership.organization.name}; "
                f"{revoked} of their tokens here {'was' if revoked == 1 else 'were'} revoked.",
            )
            return HttpResponseRedirect(reverse("org_members", args=[slug]))
    context = {
        "membership": membership,
        "organization": membership.organization,
        "target": target,
        "tokens": selectors.organization_tokens(membership.organization)
        .filter(owner=target.user, revoked_at__isnull=True, service_account__isnull=True)
        .count(),
        "tab": "members",
    }
    return render(request, "portal/member_remove.html", context)


@login_required
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    if request.method == "POST":
        try:
            member_services.leave_organization(membership, actor=Actor.from_request(request))
        except ServiceError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(reverse("org_members", args=[slug]))
        messages.success(request, f"You have left {membership.organization.name}.")
        return HttpResponseRedirect(reverse("dashboard"))
    context = {
        "membership": membership,
        "organization": membership.organization,
        "tokens": selectors.organization_tokens(membership.organization)
        .filter(owner=request.user, revoked_at__isnull=True, service_account__isnull=True)
        .count(),
        "tab": "members",
    }
    return render(request, "portal/member_leave.html", context)


# --- joining by invitation ----------------------------------------------------------------------


@never_cache
def invitation_link(request: HttpRequest, secret: str) -> HttpResponse:
    """The link in the email: keep its secret in the session and move on to an address
    without it, so it is not in the browser's history of the page or sent on as a Referer."""
    request.session[INVITATION_SESSION_KEY] = secret[:200]
    return HttpResponseRedirect(reverse("invitation_accept"))


@never_cache
def accept_invitation(request: HttpRequest) -> HttpResponse:
    secret = request.session.get(INVITATION_SESSION_KEY, "")
    invitation = invitations.invitation_for_secret(secret) if secret else None
    if invitation is None:
        return _invitation_problem(request, "unknown", status=404)
    if not invitation.is_pending:
        return _already_decided(request, invitation)
    user = request.user if request.user.is_authenticated else None
    form = JoinForm(posted(request)) if user is None else None
    context = {"invitation": invitation, "form": form, "account_exists": False}
    if user is not None and user.email.lower() != invitation.email:
        return _invitation_problem(request, "email_mismatch", invitation=invitation, status=403)
    if user is None and User.objects.filter(email__iexact=invitation.email).exists():
        context["account_exists"] = True
        return render(request, "portal/invitation.html", context)
    if request.method == "POST" and (form is None or form.is_valid()):
        return _accept(request, secret, invitation, user=user, form=form, context=context)
    status = 400 if form is not None and form.errors else 200
    return render(request, "portal/invitation.html", context, status=status)


def _accept(request, secret, invitation, *, user, form, context) -> HttpResponse:
    try:
        joined = invitations.accept_invitation(
            secret,
            user=user,
            full_name=form.cleaned_data["full_name"] if form else "",
            password=form.cleaned_data["password1"] if form else "",
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except InvitationError as error:
        if error.code == "invalid_password" and form is not None:
            for message in error.messages or [error.message]:
                form.add_error("password1", message)
            return render(request, "portal/invitation.html", context, status=400)
        if form is not None and error.field in form.fields:
            form.add_error(error.field, error.message)
            return render(request, "portal/invitation.html", context, status=400)
        return _invitation_problem(request, error.code, invitation=invitation, status=400)
    request.session.pop(INVITATION_SESSION_KEY, None)
    if user is None:
        login(request, joined.user, backend="django.contrib.auth.backends.ModelBackend")
        sudo.mark(request)  # they have just chosen the password
    messages.success(request, f"Welcome to {joined.organization.name}.")
    return HttpResponseRedirect(reverse("organization", args=[joined.organization.slug]))


def _already_decided(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    user = request.user
    if (
        invitation.state == "accepted"
        and user.is_authenticated
        and invitation.accepted_by_id == user.pk
        and Membership.objects.filter(user=user, organization=invitation.organization).exists()
    ):
        request.session.pop(INVITATION_SESSION_KEY, None)
        return HttpResponseRedirect(reverse("organization", args=[invitation.organization.slug]))
    return _invitation_problem(request, invitation.state, invitation=invitation, status=410)


def _invitation_problem(
    request: HttpRequest, code: str, *, invitation: Invitation | None = None, status: int
) -> HttpResponse:
    context = {"problem": code, "invitation": invitation}
    return render(request, "portal/invitation_problem.html", context, status=status)


@require_POST
def invitation_sign_out(request: HttpRequest) -> HttpResponse:
    """Signed in as someone else: sign out but keep the invitation, to accept it as its
    addressee (the session's secret survives the sign-out)."""
    secret = request.session.get(INVITATION_SESSION_KEY, "")
    logout(request)
    if secret:
        request.session[INVITATION_SESSION_KEY] = secret
    return HttpResponseRedirect(reverse("invitation_accept"))
