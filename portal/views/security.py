"""Account > Security: the second factors of the signed-in person, and an organisation's
"members must use 2FA" switch.

Adding or removing a factor, and new recovery codes, are sudo-mode changes: for a person with
2FA, sudo mode means a fresh second factor (portal.sudo), so removing one needs another.
"""

from __future__ import annotations

import base64
import json

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Organization
from portal import second_step, selectors, sudo
from portal.forms import add_service_error, posted
from portal.two_factor_forms import ConfirmAppForm, TwoFactorPolicyForm
from portal.views.organization import membership_or_404
from tokens.actors import Actor
from twofactor import passkeys, policy
from twofactor import services as two_factor
from twofactor.models import PasskeyDevice
from twofactor.services import TwoFactorError


@login_required
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    memberships = list(selectors.memberships_of(user))
    context = {
        "factors": two_factor.factors_of(user),
        "required_by": [
            m.organization for m in memberships if m.organization.two_factor_required_at
        ],
        "memberships": memberships,
    }
    return render(request, "portal/security.html", context)


def _show_codes(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    """The codes, once: rendered in this response only, never stored, never cached."""
    response = render(request, "portal/recovery_codes.html", {"codes": codes, "first": first})
    response["Cache-Control"] = "no-store"
    return response


def _qr_svg(device: TOTPDevice) -> str:
    # segno writes plain SVG attributes (no style, no script): fine under the strict CSP.
    qr = segno.make(device.config_url, error="m")
    return mark_safe(qr.svg_inline(scale=5, dark="#102a43", light="#ffffff", title="QR code"))  # noqa: S308


@never_cache
@sensitive_post_parameters("code")
@login_required
@sudo.sudo_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    try:
        device = two_factor.start_totp_enrolment(request.user)
    except TwoFactorError as error:
        messages.info(request, error.message)
        return HttpResponseRedirect(reverse("security"))
    form = ConfirmAppForm(posted(request))
    if request.method == "POST" and form.is_valid():
        first = not request.user.two_factor_enabled
        try:
            device = two_factor.confirm_totp(
                device, code=form.cleaned_data["code"], actor=Actor.from_request(request)
            )
        except TwoFactorError as error:
            add_service_error(form, error)
        else:
            request.user.two_factor_enabled = True
            django_otp.login(request, device)
            sudo.mark(request, second_factor=True)  # the code just typed is a second factor
            messages.success(request, "Your authenticator app is set up.")
            if first:
                codes = two_factor.generate_recovery_codes(
                    request.user, actor=Actor.from_request(request)
                )
                return _show_codes(request, codes, first=True)
            return HttpResponseRedirect(reverse("security"))
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    context = {
        "form": form,
        "qr_svg": _qr_svg(device),
        "key_groups": [key[i : i + 4] for i in range(0, len(key), 4)],
    }
    return render(request, "portal/totp_setup.html", context, status=400 if form.errors else 200)


# --- passkeys ------------------------------------------------------------------------------


def _stale() -> JsonResponse:
    return JsonResponse(
        {
            "error": "Confirm it's you first: reload the page.",
            "redirect": sudo.confirm_url(reverse("security")),
        },
        status=403,
    )


@never_cache
@require_POST
@login_required
def passkey_options(request: HttpRequest) -> JsonResponse:
    if not sudo.is_fresh(request):
        return _stale()
    options, challenge = passkeys.registration_options(
        request.user, party=second_step.relying_party(request)
    )
    second_step.remember_challenge(request, purpose="register", challenge=challenge)
    return JsonResponse(json.loads(options))


@never_cache
@require_POST
@login_required
def passkey_register(request: HttpRequest) -> JsonResponse:
    if not sudo.is_fresh(request):
        return _stale()
    challenge = second_step.take_challenge(request, purpose="register")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    credential = body.get("credential") if isinstance(body, dict) else None
    verified = None
    if challenge and isinstance(credential, dict):
        verified = passkeys.verified_registration(
            json.dumps(credential), challenge=challenge, party=second_step.relying_party(request)
        )
    if verified is None:
        return JsonResponse(
            {"error": "The passkey could not be registered. Try again."}, status=400
        )
    if PasskeyDevice.objects.filter(credential_id=credential.get("id", "")).exists():
        return JsonResponse({"error": "This passkey is already registered."}, status=400)
    first = not request.user.two_factor_enabled
    device = two_factor.add_passkey(
        request.user,
        name=str(body.get("name", "")),
        verified=verified,
        actor=Actor.from_request(request),
    )
    request.user.two_factor_enabled = True
    django_otp.login(request, device)
    sudo.mark(request, second_factor=True)
    messages.success(request, f"Passkey “{device.name}” added.")
    if first:
        messages.warning(request, "Now save recovery codes, for the day you lose your passkey.")
        return JsonResponse({"redirect": reverse("recovery_codes")})
    return JsonResponse({"redirect": reverse("security")})


# --- recovery codes, removing --------------------------------------------------------------


@never_cache
@login_required
@sudo.sudo_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            codes = two_factor.generate_recovery_codes(
                request.user, actor=Actor.from_request(request)
            )
        except TwoFactorError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(reverse("security"))
        return _show_codes(request, codes, first=False)
    factors = two_factor.factors_of(request.user)
    return render(request, "portal/recovery_codes_new.html", {"factors": factors})


@never_cache
@login_required
@sudo.sudo_required
def remove_factor(request: HttpRequest, kind: str, device_id: int) -> HttpResponse:
    model = {"totp": TOTPDevice, "passkey": PasskeyDevice}.get(kind)
    device = (
        model.objects.filter(user=request.user, pk=device_id, confirmed=True).first()
        if model
        else None
    )
    if device is None:
        messages.info(request, "That factor is already gone.")
        return HttpResponseRedirect(reverse("security"))
    if request.method == "POST":
        try:
            two_factor.remove_factor(
                request.user, kind=kind, device_id=device.pk, actor=Actor.from_request(request)
            )
        except TwoFactorError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"“{device.name}” is removed.")
        return HttpResponseRedirect(reverse("security"))
    return render(request, "portal/factor_remove.html", {"device": device, "kind": kind})


# --- the organisation's requirement --------------------------------------------------------


@login_required
@sudo.sudo_required
def organization_two_factor(request: HttpRequest, slug: str) -> HttpResponse:
    membership = membership_or_404(request, slug, admin=True)
    organization: Organization = membership.organization
    if request.method == "POST":
        form = TwoFactorPolicyForm(request.POST)
        if form.is_valid():
            required = form.cleaned_data["require_two_factor"]
            try:
                changed = policy.set_two_factor_requirement(
                    organization, required=required, actor=Actor.from_request(request)
                )
            except policy.TwoFactorPolicyError as error:
                messages.error(request, error.message)
            else:
                if changed and required:
                    messages.success(
                        request,
                        "Two-factor authentication is now required. Members without it were "
                        "emailed; their tokens here stop in 7 days unless they set it up.",
                    )
                elif changed:
                    messages.success(request, "Two-factor authentication is no longer required.")
    return HttpResponseRedirect(reverse("org_members", args=[slug]))
