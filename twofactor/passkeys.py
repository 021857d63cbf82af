"""WebAuthn ceremonies through py_webauthn: options out, a signed answer back, verified here.

The relying party is the site the browser is on: its host is the RP ID and its origin the
expected origin (Django has already checked the host against ALLOWED_HOSTS). The challenge
lives in the caller's session between the two halves of a ceremony and is used once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import User
from twofactor.models import PasskeyDevice


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str  # the host, without port
    origin: str  # scheme://host[:port]


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers import base64url_to_bytes

    return [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(cid))
        for cid in PasskeyDevice.objects.filter(user=user, confirmed=True).values_list(
            "credential_id", flat=True
        )
    ]


def registration_options(user: User, *, party: RelyingParty) -> tuple[str, str]:
    """(options JSON for navigator.credentials.create, the challenge to keep, base64url)."""
    options = generate_registration_options(
        rp_id=party.id,
        rp_name="Quaygate",
        user_id=f"quaygate-user-{user.pk}".encode(),
        user_name=user.email,
        user_display_name=user.full_name or user.email,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verified_registration(credential: str, *, challenge: str, party: RelyingParty):
    """The verified credential, or None when the browser's answer does not check out."""
    from webauthn.helpers import base64url_to_bytes

    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.id,
            expected_origin=party.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError):
        return None


def authentication_options(user: User, *, party: RelyingParty) -> tuple[str, str]:
    options = generate_authentication_options(
        rp_id=party.id,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verified_passkey(
    user: User, credential: str, *, challenge: str, party: RelyingParty
) -> PasskeyDevice | None:
    """The user's passkey that signed `challenge`, its counter and last use updated; or None."""
    from webauthn.helpers import base64url_to_bytes

    try:
        credential_id = json.loads(credential)["id"]
    except (ValueError, KeyError, TypeError):
        return None
    with transaction.atomic():
        device = (
            PasskeyDevice.objects.select_for_update()
            .filter(user=user, confirmed=True, credential_id=credential_id)
            .first()
        )
        if device is None:
            return None
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=party.id,
                expected_origin=party.origin,
                credential_public_key=bytes(device.public_key),
                credential_current_sign_count=device.sign_count,
            )
        except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
            return None
        device.sign_count = verified.new_sign_count
        device.last_used_at = timezone.now()
        device.save(update_fields=["sign_count", "last_used_at"])
    return device
