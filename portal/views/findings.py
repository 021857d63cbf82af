"""Anomaly findings: a finding's page, acknowledging and resolving it, an organisation's list.

Who may act on a finding is who may manage its token: the token's owner and the admins of its
organisation (findings about no token: the admins). Anyone else gets a 404. The change, its
audit event and its rules are telemetry.services'; the view only asks and reports.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from portal import selectors, sudo
from portal.forms import FindingFilterForm, FindingForm, posted
from portal.views.organization import membership_or_404
from portal.views.paging import paginate, query_without_page
from telemetry.models import Anomaly
from telemetry.services import AnomalyStateError, acknowledge_anomaly, resolve_anomaly
from tokens.actors import Actor

CHANGES = {"acknowledge": acknowledge_anomaly, "resolve": resolve_anomaly}
DONE = {"acknowledge": "Acknowledged", "resolve": "Resolved"}
TARGET = {"acknowledge": Anomaly.State.ACKNOWLEDGED, "resolve": Anomaly.State.RESOLVED}


def _default_back(anomaly: Anomaly) -> str:
    if anomaly.token_id is not None:
        return reverse("token_detail", args=[anomaly.token_id])
    return reverse("finding", args=[anomaly.pk])


@login_required
def finding(request: HttpRequest, anomaly_id: int) -> HttpResponse:
    anomaly = selectors.finding_for(request.user, anomaly_id)
    back = sudo.safe_next(
        request,
        request.POST.get("next") or request.GET.get("next"),
        default=_default_back(anomaly),
    )
    form = FindingForm(posted(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            action = form.cleaned_data["action"]
            already = anomaly.state == TARGET[action]
            try:
                CHANGES[action](
                    anomaly, actor=Actor.from_request(request), note=form.cleaned_data["note"]
                )
            except AnomalyStateError:
                # Someone else resolved it between this page loading and the click.
                form.add_error(
                    None,
                    f"This finding is already {anomaly.get_state_display().lower()}: "
                    "it can't be acknowledged any more.",
                )
                status = 409
            else:
                if already:  # a second click, another tab: nothing changed, nothing logged
                    messages.info(request, f"That finding was already {DONE[action].lower()}.")
                else:
                    messages.success(
                        request,
                        f"{DONE[action]}: {anomaly.get_rule_display()}. Noted in the audit log.",
                    )
                return HttpResponseRedirect(back)
    context = {"anomaly": anomaly, "form": form, "next": back}
    return render(request, "portal/finding.html", context, status=status)


@login_required
def organization_findings(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug)
    filters = FindingFilterForm(request.GET or None)
    valid = filters.is_valid()
    state = (filters.cleaned_data["state"] if valid else "") or "unresolved"
    token_id = filters.cleaned_data["token"] if valid else None
    found = selectors.organization_findings(membership, state=state, token_id=token_id)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "filters": filters,
        "state": state,
        "token_id": token_id,
        "page": paginate(request, found),
        "query": query_without_page(request),
        "here": request.get_full_path(),
        "tab": "findings",
    }
    return render(request, "portal/org_findings.html", context)
