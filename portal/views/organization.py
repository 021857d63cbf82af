"""The organisation: its tokens and token policy (admins), its audit log (every member).

A person who is not a member gets a 404 for every page of an organisation, and a member gets a
404 for the admin pages: neither learns more than they may see.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from accounts.models import Membership
from portal import selectors, sudo, two_factor_gate
from portal.forms import AuditFilterForm, OrgTokenFilterForm, PolicyForm, add_service_error, posted
from portal.views.paging import paginate, query_without_page
from tokens import format as token_format
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.selectors import audit_events_visible_to
from tokens.services import chain as chain_services


def membership_or_404(request: HttpRequest, slug: str, *, admin: bool = False) -> Membership:
    membership = selectors.membership_in(request.user, slug)
    if membership is None or (admin and not membership.is_admin):
        raise Http404("No such organisation")
    two_factor_gate.check(request, membership.organization)
    return membership


def _pasted_secret_redirect(request: HttpRequest, field: str) -> HttpResponse | None:
    """A whole token typed into a search box (GET) is a secret in a URL: browser history,
    access logs. Send the browser on at once to the same search by its display prefix."""
    term = request.GET.get(field, "").strip()
    if not token_format.is_well_formed(term):
        return None
    query = request.GET.copy()
    query[field] = token_format.display_prefix(term)
    query.pop("page", None)
    messages.warning(
        request,
        "That was a whole token, which is a secret: searched by its first eight characters "
        f"({query[field]}) instead. If it was shared by mistake, revoke it.",
    )
    return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")


@login_required
def organizations(request: HttpRequest) -> HttpResponse:
    memberships = list(selectors.memberships_of(request.user))
    if len(memberships) == 1:
        return HttpResponseRedirect(
            reverse("organization", args=[memberships[0].organization.slug])
        )
    return render(request, "portal/organizations.html", {"memberships": memberships})


@login_required
def organization(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    page = "org_tokens" if membership.is_admin else "org_audit"
    return HttpResponseRedirect(reverse(page, args=[slug]))


@login_required
def organization_tokens(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    if pasted := _pasted_secret_redirect(request, "q"):
        return pasted
    organization = membership.organization
    filters = OrgTokenFilterForm(request.GET or None)
    tokens = selectors.organization_tokens(organization)
    if filters.is_valid():
        tokens = selectors.filtered_tokens(tokens, **filters.cleaned_data)
    context = {
        "membership": membership,
        "organization": organization,
        "filters": filters,
        "page": paginate(request, tokens),
        "query": query_without_page(request),
        "here": request.get_full_path(),
        "policy": services.policy_for(organization),
        "tab": "tokens",
    }
    return render(request, "portal/org_tokens.html", context)


@login_required
@sudo.sudo_required
def organization_policy(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    organization = membership.organization
    policy = services.policy_for(organization)
    form = PolicyForm(posted(request), initial=PolicyForm.initial_from(policy))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_token_policy(
                organization, actor=Actor.from_request(request), **form.cleaned_data
            )
        except TokenError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "The token policy is saved. It applies to new tokens.")
            return HttpResponseRedirect(reverse("org_tokens", args=[slug]))
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "policy": policy,
        "tab": "policy",
    }
    return render(request, "portal/org_policy.html", context, status=400 if form.errors else 200)


@login_required
def organization_audit(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    if pasted := _pasted_secret_redirect(request, "actor"):
        return pasted
    organization = membership.organization
    filters = AuditFilterForm(request.GET or None)
    events = audit_events_visible_to(request.user, organization)
    if filters.is_valid():
        events = selectors.filtered_audit_log(
            events, **{k: v for k, v in filters.cleaned_data.items() if v}
        )
    context = {
        "membership": membership,
        "organization": organization,
        "filters": filters,
        "page": paginate(request, events),
        "query": query_without_page(request),
        "actors": selectors.member_emails(organization),
        # Issue 18: what a customer notes to check later that nothing was changed since.
        "chain_head": chain_services.chain_head_for(organization),
        "tab": "audit",
    }
    return render(request, "portal/org_audit.html", context)
