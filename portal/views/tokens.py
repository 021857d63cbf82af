"""A person's tokens: the dashboard, creating one, its secret (once), its page, regenerate, revoke.

Every view: access check (tokens.selectors.token_for: another person's token is a 404) → form →
one service call → redirect with a message. Audit events and emails come from the services.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import Membership, Organization
from fleet.models import Terminal
from portal import selectors, sudo, two_factor_gate
from portal.forms import (
    NewTokenForm,
    RegenerateForm,
    RevokeForm,
    TokenSettingsForm,
    add_service_error,
    posted,
)
from portal.middleware import remember_secret, take_secret
from telemetry import selectors as usage
from telemetry.services import open_anomalies_by_token
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import ServiceAccount
from tokens.selectors import can_manage_token, token_for


def _show_secret_once(request: HttpRequest, issued: services.IssuedToken) -> HttpResponse:
    """Redirect to the page that shows the new secret: portal.middleware keeps it until then
    (and no longer than a few minutes), so a reload, the back button or another tab finds
    nothing."""
    remember_secret(request, token_id=issued.token.pk, secret=issued.secret)
    return HttpResponseRedirect(reverse("token_secret", args=[issued.token.pk]))


def _token_for(request: HttpRequest, token_id: int):
    """The token (404 when not theirs to see), unless its organisation requires the 2FA the
    person lacks (two_factor_gate's page)."""
    token = token_for(request.user, token_id)
    two_factor_gate.check(request, token.organization)
    return token


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    tokens = list(selectors.own_tokens(request.user))
    findings = open_anomalies_by_token([t.pk for t in tokens if t.revoked_at is None])
    rows = [(token, findings.get(token.pk, [])) for token in tokens]
    blocked = {
        t.organization for t in tokens if two_factor_gate.blocks(request.user, t.organization)
    }
    context = {"rows": rows, "two_factor_blocked": sorted(blocked, key=lambda org: org.name)}
    return render(request, "portal/dashboard.html", context)


def _chosen_membership(request: HttpRequest) -> tuple[Membership | None, list[Membership]]:
    memberships = list(selectors.memberships_of(request.user))
    slug = request.POST.get("org") or request.GET.get("org")
    chosen = next((m for m in memberships if m.organization.slug == slug), None)
    if chosen is None and memberships:
        chosen = memberships[0]
    return chosen, memberships


@login_required
@sudo.sudo_required
def new_token(request: HttpRequest) -> HttpResponse:
    membership, memberships = _chosen_membership(request)
    if membership is None:
        return render(request, "portal/no_organization.html", status=403)
    organization = membership.organization
    two_factor_gate.check(request, organization)
    if organization.api_access == Organization.ApiAccess.NONE:
        context = {"organization": organization, "memberships": memberships}
        return render(request, "portal/api_not_enabled.html", context, status=403)
    policy = services.policy_for(organization)
    terminals = list(Terminal.objects.for_org(organization))
    form = NewTokenForm(
        posted(request),
        policy=policy,
        terminals=terminals,
        is_admin=membership.is_admin,
        api_access=organization.api_access,
        service_accounts=_service_accounts_for(membership),
        initial={"owner": request.GET.get("owner") or "me"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            issued = _issue(request, form, organization=organization)
        except TokenError as error:
            aliases = dict(form.SERVICE_FIELDS)
            if form.cleaned_data.get("expiry") == "custom":
                aliases["expires_at"] = "expires_on"
            add_service_error(form, error, aliases)
        else:
            return _show_secret_once(request, issued)
    context = {
        "form": form,
        "organization": organization,
        "memberships": memberships,
        "membership": membership,
        "policy": policy,
        "has_terminals": bool(terminals),
        "plan": selectors.plan_of(organization),
        "offers_service_accounts": "owner" in form.fields,
    }
    return render(request, "portal/token_new.html", context, status=400 if form.errors else 200)


def _manageable(request: HttpRequest, token_id: int):
    """The token, for the pages that change it: a service token's contact may read its page
    but only admins manage it (403)."""
    token = _token_for(request, token_id)
    if not can_manage_token(request.user, token):
        raise PermissionDenied("Only an admin of the organisation can change a service token.")
    return token


def _service_accounts_for(membership: Membership) -> list[ServiceAccount]:
    """The accounts an admin may create a token for; none for a member."""
    if not membership.is_admin:
        return []
    accounts = ServiceAccount.objects.filter(
        organization=membership.organization, archived_at__isnull=True
    )
    return list(accounts)


def _issue(request: HttpRequest, form: NewTokenForm, *, organization) -> services.IssuedToken:
    """A personal token, or (an admin's choice) a service account's."""
    actor = Actor.from_request(request)
    account = form.chosen_service_account()
    if account is not None:
        return services.issue_service_token(account, actor=actor, **form.service_kwargs())
    return services.issue_token(
        owner=request.user, organization=organization, actor=actor, **form.service_kwargs()
    )


@never_cache  # Cache-Control: no-store (and friends): no cache, back button or proxy keeps it
@login_required
def token_secret(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _token_for(request, token_id)
    secret = take_secret(request, token_id=token.pk)
    return render(request, "portal/token_secret.html", {"token": token, "secret": secret})


@login_required
def token_detail(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _token_for(request, token_id)
    days = selectors.daily_usage(token)
    context = {
        "token": token,
        "is_owner": token.owner_id == request.user.pk and token.service_account_id is None,
        "can_manage": can_manage_token(request.user, token),
        "terminals": list(token.terminals.all()) if token.terminal_access == "selected" else [],
        "days": days,
        "totals": {
            "requests": sum(d.total for d in days),
            "ok": sum(d.ok for d in days),
            "client_errors": sum(d.client_errors for d in days),
            "server_errors": sum(d.server_errors for d in days),
        },
        "recent": list(usage.recent_requests(token, limit=20)),
        "seen": selectors.sightings(token),
        **_findings(token),
        "settings_form": TokenSettingsForm(
            initial={
                "name": token.name,
                "description": token.description,
                "notify_on_new_ip": token.notify_on_new_ip,
            }
        ),
        "policy": services.policy_for(token.organization),
        "can_decide": token.is_pending
        and Membership.objects.role_of(user=request.user, organization=token.organization)
        == Membership.Role.ADMIN,
    }
    return render(request, "portal/token_detail.html", context)


# The token page shows the latest few; the findings list (filtered to the token) has them all.
TOKEN_PAGE_FINDINGS = 10


def _findings(token) -> dict:
    """The latest unresolved findings and, when there are more, how many (one more query)."""
    unresolved = selectors.unresolved_anomalies(token)
    shown = list(unresolved[: TOKEN_PAGE_FINDINGS + 1])
    count = len(shown) if len(shown) <= TOKEN_PAGE_FINDINGS else unresolved.count()
    return {"anomalies": shown[:TOKEN_PAGE_FINDINGS], "anomaly_count": count}


@login_required
@require_POST
def token_settings(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _manageable(request, token_id)
    form = TokenSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_token(token, actor=Actor.from_request(request), **form.cleaned_data)
        except TokenError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Saved.")
            return HttpResponseRedirect(reverse("token_detail", args=[token.pk]))
    return render(request, "portal/token_settings.html", {"token": token, "form": form}, status=400)


@login_required
@sudo.sudo_required
def regenerate(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _manageable(request, token_id)
    form = RegenerateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.regenerate_token(
                token,
                actor=Actor.from_request(request),
                overlap_hours=form.cleaned_data["overlap_hours"],
            )
        except TokenError as error:
            add_service_error(form, error)
        else:
            return _show_secret_once(request, issued)
    status = 400 if form.errors else 200
    return render(
        request, "portal/token_regenerate.html", {"token": token, "form": form}, status=status
    )


@login_required
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = _manageable(request, token_id)
    back = sudo.safe_next(
        request,
        request.POST.get("next") or request.GET.get("next"),
        default=reverse("token_detail", args=[token.pk]),
    )
    if token.revoked_at is not None:
        messages.info(request, f"“{token.name}” was already revoked.")
        return HttpResponseRedirect(back)
    form = RevokeForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_token(
                token, actor=Actor.from_request(request), reason=form.cleaned_data["reason"]
            )
        except TokenError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, f"“{token.name}” ({token.display_prefix}…) is revoked. It no longer works."
            )
            return HttpResponseRedirect(back)
    context = {"token": token, "form": form, "next": back}
    return render(request, "portal/token_revoke.html", context, status=400 if form.errors else 200)
