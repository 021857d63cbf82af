"""The organisation's Requests tab (issue 17): members' tokens waiting for an admin's approval.

Admins see who asked, for what (scopes, terminals, expiry), why (the justification) and when,
and approve or deny with a note; `tokens.services.approve_token` / `deny_token` write the audit
event, email the requester and drop the token's cached state. A person outside the organisation
gets a 404 (nothing leaks); a member gets a 403 page that says only admins decide.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from accounts.models import Membership
from portal import selectors, sudo
from portal.request_forms import DecisionForm
from portal.views.organization import membership_or_404
from portal.views.paging import paginate
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import PersonalAccessToken


def _admin_membership(request: HttpRequest, slug: str) -> Membership | HttpResponse:
    membership = membership_or_404(request, slug)  # 404 for outsiders, the 2FA gate
    if not membership.is_admin:
        context = {"organization": membership.organization, "membership": membership}
        return render(request, "portal/admins_only.html", context, status=403)
    return membership


@login_required
def organization_requests(request: HttpRequest, slug: str) -> HttpResponse:
    membership = _admin_membership(request, slug)
    if isinstance(membership, HttpResponse):
        return membership
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "page": paginate(request, selectors.pending_requests(organization)),
        "query": "",
        "form": DecisionForm(),
        "tab": "requests",
    }
    return render(request, "portal/org_requests.html", context)


@login_required
@sudo.sudo_required  # approving makes a secret work: the same bar as creating one
def organization_request(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    membership = _admin_membership(request, slug)
    if isinstance(membership, HttpResponse):
        return membership
    organization = membership.organization
    token = (
        PersonalAccessToken.objects.for_org(organization)
        .select_related("owner", "approval_decided_by")
        .filter(pk=token_id)
        .first()
    )
    if token is None:  # another organisation's token, or none at all
        raise Http404("No such request")
    form = DecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        decide = (
            services.approve_token
            if form.cleaned_data["decision"] == "approve"
            else services.deny_token
        )
        try:
            decided = decide(
                token, actor=Actor.from_request(request), note=form.cleaned_data["note"]
            )
        except TokenError as error:
            messages.error(request, f"“{token.name}” of {token.owner.email}: {error.message}")
        else:
            messages.success(request, _decided_message(decided))
        return HttpResponseRedirect(reverse("org_requests", args=[slug]))
    context = {
        "membership": membership,
        "organization": organization,
        "token": token,
        "terminals": list(token.terminals.all()),
        "form": form,
        "tab": "requests",
    }
    return render(request, "portal/org_request.html", context, status=400 if form.errors else 200)


def _decided_message(token: PersonalAccessToken) -> str:
    who = token.owner.email
    if token.approval == PersonalAccessToken.ApprovalState.APPROVED:
        return (
            f"Approved “{token.name}” of {who}: it works from its next request. {who} is emailed."
        )
    return f"Denied “{token.name}” of {who}: the token is revoked. {who} is emailed."
