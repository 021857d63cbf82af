"""An organisation's webhook endpoints (admins only): list, add, edit, rotate the secret,
disable / enable, delete; each endpoint's recent deliveries with resend and a test event.

Not a member: 404, as for every page of an organisation. A member who is not an admin: 403
(they know the organisation; they may not manage where its events go). Adding an endpoint and
rotating its secret make a secret, so both are in sudo mode; the secret is shown once, on the
response to that POST, and never again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import Membership
from portal import sudo
from portal.forms import add_service_error, posted
from portal.views.organization import membership_or_404
from portal.webhook_forms import WebhookEndpointForm
from tokens.actors import Actor
from webhooks import selectors as webhook_selectors
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint


def admin_membership(request: HttpRequest, slug: str) -> Membership:
    membership = membership_or_404(request, slug)  # 404 for outsiders, the 2FA gate
    if not membership.is_admin:
        raise PermissionDenied("Only organisation admins manage webhooks")
    return membership


def _endpoint(membership: Membership, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.select_related("organization"),
        id=endpoint_id,
        organization=membership.organization,
    )


def _context(membership: Membership, **more) -> dict:
    return {
        "membership": membership,
        "organization": membership.organization,
        "tab": "webhooks",
    } | more


def _secret_page(request, membership, endpoint, secret: str, *, rotated: bool) -> HttpResponse:
    response = render(
        request,
        "portal/webhook_secret.html",
        _context(membership, endpoint=endpoint, secret=secret, rotated=rotated),
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def webhooks(request: HttpRequest, slug: str) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoints = webhook_selectors.endpoints_with_stats(membership.organization)
    return render(request, "portal/org_webhooks.html", _context(membership, endpoints=endpoints))


@never_cache
@login_required
@sudo.sudo_required
def new_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    membership = admin_membership(request, slug)
    form = WebhookEndpointForm(
        posted(request), initial={"event_types": ["token.revoked", "token.leaked"]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.create_endpoint(
                membership.organization, actor=Actor.from_request(request), **form.cleaned_data
            )
        except services.WebhookError as error:
            add_service_error(form, error)
        else:
            return _secret_page(request, membership, endpoint, secret, rotated=False)
    context = _context(membership, form=form)
    return render(request, "portal/webhook_new.html", context, status=400 if form.errors else 200)


@login_required
def webhook(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    form = WebhookEndpointForm(posted(request), initial=WebhookEndpointForm.initial_from(endpoint))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_endpoint(
                endpoint, actor=Actor.from_request(request), **form.cleaned_data
            )
        except services.WebhookError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "The endpoint is saved.")
            return HttpResponseRedirect(request.path)
    deliveries = webhook_selectors.recent_deliveries(endpoint)
    context = _context(membership, endpoint=endpoint, form=form, deliveries=deliveries)
    return render(
        request, "portal/webhook_detail.html", context, status=400 if form.errors else 200
    )


@never_cache
@login_required
@sudo.sudo_required
def rotate_webhook_secret(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    if request.method != "POST":
        return render(
            request, "portal/webhook_rotate.html", _context(membership, endpoint=endpoint)
        )
    secret = services.rotate_secret(endpoint, actor=Actor.from_request(request))
    return _secret_page(request, membership, endpoint, secret, rotated=True)


@require_POST
@login_required
def toggle_webhook(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    actor = Actor.from_request(request)
    if endpoint.is_enabled:
        services.disable_endpoint(endpoint, reason=f"Disabled by {actor.label}", actor=actor)
        messages.success(request, "The endpoint is disabled: no events are sent to it.")
    else:
        services.enable_endpoint(endpoint, actor=actor)
        messages.success(request, "The endpoint is enabled again.")
    return HttpResponseRedirect(reverse("org_webhook", args=[slug, endpoint.id]))


@require_POST
@login_required
def delete_webhook(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    services.delete_endpoint(endpoint, actor=Actor.from_request(request))
    messages.success(request, "The endpoint and its delivery history are deleted.")
    return HttpResponseRedirect(reverse("org_webhooks", args=[slug]))


@require_POST
@login_required
def test_webhook(request: HttpRequest, slug: str, endpoint_id: int) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    try:
        services.send_test_event(endpoint, actor=Actor.from_request(request))
    except services.WebhookError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A test event is on its way; its delivery is listed below.")
    return HttpResponseRedirect(reverse("org_webhook", args=[slug, endpoint.id]))


@require_POST
@login_required
def resend_delivery(
    request: HttpRequest, slug: str, endpoint_id: int, delivery_id: int
) -> HttpResponse:
    membership = admin_membership(request, slug)
    endpoint = _endpoint(membership, endpoint_id)
    delivery = get_object_or_404(WebhookDelivery, id=delivery_id, endpoint=endpoint)
    if services.resend_delivery(delivery):
        messages.success(request, "The delivery is queued to be sent again.")
    else:
        messages.error(request, "That delivery is still being sent, or the endpoint is disabled.")
    return HttpResponseRedirect(reverse("org_webhook", args=[slug, endpoint.id]))
