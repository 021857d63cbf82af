"""An organisation's service accounts (issue 17): the list, creating one, its page with its
tokens, naming a new contact, archiving it. Organisation admins only.

Someone outside the organisation gets a 404 (no existence leak); a member of it a 403 page that
says only admins manage service accounts. Each change is one call to tokens.services, which
writes the audit event and queues the emails.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import Membership
from portal import selectors, sudo
from portal.forms import add_service_error, posted
from portal.service_account_forms import ContactForm, ServiceAccountForm
from portal.views.organization import membership_or_404
from portal.views.paging import paginate
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import ServiceAccount


class _NotAnAdmin(Exception):
    def __init__(self, membership: Membership) -> None:
        self.membership = membership


def _admin_membership(request: HttpRequest, slug: str) -> Membership:
    membership = membership_or_404(request, slug)
    if not membership.is_admin:
        raise _NotAnAdmin(membership)
    return membership


def _forbidden(request: HttpRequest, membership: Membership) -> HttpResponse:
    context = {"membership": membership, "organization": membership.organization}
    return render(request, "portal/service_account_forbidden.html", context, status=403)


def _account_or_404(membership: Membership, account_id: int) -> ServiceAccount:
    account = (
        ServiceAccount.objects.filter(organization=membership.organization, pk=account_id)
        .select_related("organization", "contact", "created_by", "archived_by")
        .first()
    )
    if account is None:
        raise Http404("No such service account")
    return account


def admins_only(view):
    """The page for organisation admins; a member gets the 403 page."""

    def wrapped(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
        try:
            membership = _admin_membership(request, slug)
        except _NotAnAdmin as refused:
            return _forbidden(request, refused.membership)
        return view(request, membership, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(wrapped)


@admins_only
def service_accounts(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "page": paginate(request, selectors.service_accounts_of(organization)),
        "tab": "service_accounts",
    }
    return render(request, "portal/org_service_accounts.html", context)


@admins_only
@sudo.sudo_required
def new_service_account(request: HttpRequest, membership: Membership) -> HttpResponse:
    organization = membership.organization
    form = ServiceAccountForm(posted(request), people=selectors.active_members(organization))
    if request.method == "POST" and form.is_valid():
        try:
            account = services.create_service_account(
                organization,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                contact=form.chosen_contact(),
                actor=Actor.from_request(request),
            )
        except TokenError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"The service account “{account.name}” is created.")
            return HttpResponseRedirect(_detail_url(account))
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "tab": "service_accounts",
    }
    status = 400 if form.errors else 200
    return render(request, "portal/service_account_new.html", context, status=status)


@admins_only
def service_account(request: HttpRequest, membership: Membership, account_id: int) -> HttpResponse:
    account = _account_or_404(membership, account_id)
    return _detail_page(request, membership, account)


def _detail_page(
    request: HttpRequest,
    membership: Membership,
    account: ServiceAccount,
    *,
    contact_form: ContactForm | None = None,
    status: int = 200,
) -> HttpResponse:
    people = selectors.active_members(account.organization)
    context = {
        "membership": membership,
        "organization": account.organization,
        "account": account,
        "page": paginate(request, selectors.service_account_tokens(account)),
        "contact_form": contact_form
        or ContactForm(initial={"contact": account.contact_id}, people=people),
        "tab": "service_accounts",
    }
    return render(request, "portal/service_account_detail.html", context, status=status)


@admins_only
@require_POST
def change_contact(request: HttpRequest, membership: Membership, account_id: int) -> HttpResponse:
    account = _account_or_404(membership, account_id)
    form = ContactForm(request.POST, people=selectors.active_members(account.organization))
    if form.is_valid():
        try:
            services.change_contact(
                account, contact=form.chosen_contact(), actor=Actor.from_request(request)
            )
        except TokenError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, f"{form.chosen_contact().email} is now the contact of {account.name}."
            )
            return HttpResponseRedirect(_detail_url(account))
    return _detail_page(request, membership, account, contact_form=form, status=400)


@admins_only
@sudo.sudo_required
def archive(request: HttpRequest, membership: Membership, account_id: int) -> HttpResponse:
    account = _account_or_404(membership, account_id)
    if request.method != "POST":
        context = {"membership": membership, "organization": account.organization}
        return render(
            request, "portal/service_account_archive.html", context | {"account": account}
        )
    try:
        revoked = services.archive_service_account(account, actor=Actor.from_request(request))
    except TokenError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"“{account.name}” is archived; {revoked} token{'' if revoked == 1 else 's'} revoked.",
        )
    return HttpResponseRedirect(_detail_url(account))


def _detail_url(account: ServiceAccount) -> str:
    return reverse("org_service_account", args=[account.organization.slug, account.pk])
