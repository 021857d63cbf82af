"""The organisation's partner-API access (issue 15): its level, its plan, and the admins'
"Request production access".

Every member sees the page (what their tokens can reach and why a qgp_ token gets 403); only an
organisation admin may send a request: a member's POST gets a 403 page saying who can. A
person outside the organisation gets a 404, as for every organisation page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import Membership
from portal import selectors
from portal.forms import ProductionRequestForm, add_service_error
from portal.views.organization import membership_or_404
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError

# How many past requests the page lists.
_HISTORY = 10


@login_required
def api_access(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    return _page(request, membership, ProductionRequestForm())


def _page(
    request: HttpRequest, membership: Membership, form: ProductionRequestForm, status: int = 200
) -> HttpResponse:
    organization = membership.organization
    history = list(selectors.production_requests(organization)[:_HISTORY])
    context = {
        "membership": membership,
        "organization": organization,
        "plan": selectors.plan_of(organization),
        "open_request": next((r for r in history if r.is_open), None),
        "history": history,
        "form": form,
        "tab": "api",
    }
    return render(request, "portal/org_api_access.html", context, status=status)


@login_required
@require_POST
def request_production(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    organization = membership.organization
    if not membership.is_admin:
        context = {"organization": organization, "membership": membership}
        return render(request, "portal/api_request_forbidden.html", context, status=403)
    form = ProductionRequestForm(request.POST)
    if form.is_valid():
        try:
            services.request_production_access(
                organization,
                requested_by=request.user,
                description=form.cleaned_data["description"],
                actor=Actor.from_request(request),
            )
        except TokenError as error:
            if error.field is None:  # already production, or a request is open: a page message
                messages.info(request, error.message)
                return HttpResponseRedirect(reverse("org_api_access", args=[slug]))
            add_service_error(form, error)
        else:
            messages.success(
                request,
                "Your request for production access is sent. Quaygate ops review it, and every "
                "organisation admin gets an email with the decision.",
            )
            return HttpResponseRedirect(reverse("org_api_access", args=[slug]))
    return _page(request, membership, form, status=400)
