"""Every change to a person's second factors: enrol, add, remove, regenerate codes, use a
recovery code, ops reset. Each writes the audit log (one event per organisation of the
account, as a sign-in does) and a security notice that cannot be turned off, in one
transaction; User.two_factor_enabled follows the devices here and nowhere else.

Turning 2FA on ends any grace period an organisation's policy started (policy.py) and drops
the cached state of the person's tokens, so every process sees it on the next request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Organization, User
from core.errors import ServiceError
from notifications.models import Notification
from notifications.services import queue_notification
from tokens.actors import Actor
from tokens.models import AuditEvent
from tokens.services import record_audit_event
from twofactor import policy
from twofactor.models import PasskeyDevice, RecoveryCode, RecoveryCodeDevice, hash_recovery_code
from twofactor.policy import security_path

RECOVERY_CODE_COUNT = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


class TwoFactorError(ServiceError):
    """A refused change: a wrong code, removing the last factor under a policy, …"""


@dataclass(frozen=True, slots=True)
class Factors:
    """What the Security page lists."""

    totp: TOTPDevice | None
    passkeys: list[PasskeyDevice]
    recovery: RecoveryCodeDevice | None
    codes_left: int


def factors_of(user: User) -> Factors:
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    passkeys = list(PasskeyDevice.objects.filter(user=user, confirmed=True).order_by("created_at"))
    recovery = RecoveryCodeDevice.objects.filter(user=user).first()
    left = recovery.codes.filter(used_at__isnull=True).count() if recovery else 0
    return Factors(totp=totp, passkeys=passkeys, recovery=recovery, codes_left=left)


def _has_factor(user: User) -> bool:
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or PasskeyDevice.objects.filter(user=user, confirmed=True).exists()
    )


def _organizations(user: User) -> list[Organization | None]:
    return list(Organization.objects.filter(memberships__user=user)) or [None]


def _record(user: User, *, action: str, actor: Actor, details: dict) -> None:
    for organization in _organizations(user):
        record_audit_event(action=action, actor=actor, organization=organization, details=details)


def _notice(user: User, *, event: str, headline: str, actor: Actor, **context) -> None:
    now = timezone.now()
    queue_notification(
        kind=Notification.Kind.TWO_FACTOR_CHANGED,
        user=user,
        context={
            "event": event,
            "headline": headline,
            "ip": actor.ip,
            "when": now,
            "security_url": security_path(),
            **context,
        },
        dedup_key=f"two_factor:{event}:{user.pk}:{now.isoformat()}:{secrets.token_hex(4)}",
    )


def _factor_added(user: User, *, actor: Actor, factor: str, name: str) -> None:
    """After a new confirmed device: the flag, the audit events, the notices, the grace."""
    first = not User.objects.filter(pk=user.pk, two_factor_enabled=True).exists()
    if factor == "passkey":
        _record(user, action=AuditEvent.Action.PASSKEY_ADDED, actor=actor, details={"name": name})
        _notice(
            user,
            event="passkey_added",
            headline="A passkey was added",
            actor=actor,
            factor_name=name,
        )
    if first:
        User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
        user.two_factor_enabled = True
        _record(
            user,
            action=AuditEvent.Action.TWO_FACTOR_ENABLED,
            actor=actor,
            details={"factor": factor},
        )
        _notice(
            user,
            event="enabled",
            headline="Two-factor authentication was turned on",
            actor=actor,
            factor_name=name,
        )
        policy.end_grace(user)


# --- the authenticator app ------------------------------------------------------------------


def start_totp_enrolment(user: User) -> TOTPDevice:
    """An unconfirmed device with a fresh key (reused while the person is still setting up)."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise TwoFactorError(
            "An authenticator app is already set up. Remove it first to set up another.",
            code="totp_exists",
        )
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def confirm_totp(device: TOTPDevice, *, code: str, actor: Actor) -> TOTPDevice:
    """Activate the app once it has produced one right code."""
    code = "".join((code or "").split())
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, confirmed=False)
        if not code.isdigit() or not device.verify_token(code):
            raise TwoFactorError(
                "That code is not right. Type the 6 digits your app shows now.",
                code="invalid_code",
                field="code",
            )
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _factor_added(device.user, actor=actor, factor="totp", name=device.name)
    return device


# --- passkeys ------------------------------------------------------------------------------


def add_passkey(user: User, *, name: str, verified, actor: Actor) -> PasskeyDevice:
    """Store a credential py_webauthn has verified (twofactor.passkeys.verified_registration)."""
    from webauthn.helpers import bytes_to_base64url

    name = (name or "").strip()[:64] or "Passkey"
    with transaction.atomic():
        device = PasskeyDevice.objects.create(
            user=user,
            name=name,
            confirmed=True,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
        )
        _factor_added(user, actor=actor, factor="passkey", name=name)
    return device


# --- recovery codes -------------------------------------------------------------------------


def _new_code() -> str:
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{body[:5]}-{body[5:]}"


def generate_recovery_codes(user: User, *, actor: Actor) -> list[str]:
    """Ten new codes, returned once; every code of the old set stops working."""
    if not user.two_factor_enabled:
        raise TwoFactorError(
            "Set up an authenticator app or a passkey first.", code="two_factor_off"
        )
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        device, _ = RecoveryCodeDevice.objects.get_or_create(
            user=user, defaults={"name": "Recovery codes", "confirmed": True}
        )
        device.codes.all().delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=device, code_hash=hash_recovery_code(code)) for code in codes
        )
        device.created_at = timezone.now()
        device.last_used_at = None
        device.save(update_fields=["created_at", "last_used_at"])
    return codes


# --- verifying a typed code -----------------------------------------------------------------


def verify_code(user: User, *, code: str, actor: Actor):
    """The device that accepts `code` (an app's 6 digits or a recovery code), or None.

    TOTP: django-otp refuses a code of a time step already used (no replay in its window).
    A recovery code works once; its use is an audit event and a notice.
    """
    code = "".join((code or "").split())
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit():
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device
            return None
        recovery = RecoveryCodeDevice.objects.select_for_update().filter(user=user).first()
        if recovery is None or not recovery.verify_token(code):
            return None
        left = recovery.codes_left()
        _record(
            user,
            action=AuditEvent.Action.RECOVERY_CODE_USED,
            actor=actor,
            details={"codes_left": left},
        )
        _notice(
            user,
            event="recovery_code_used",
            headline="A recovery code was used",
            actor=actor,
            codes_left=left,
        )
    return recovery


# --- removing ---------------------------------------------------------------------------------


def _required_by(user: User) -> list[str]:
    return list(
        Organization.objects.filter(
            memberships__user=user, two_factor_required_at__isnull=False
        ).values_list("name", flat=True)
    )


def _devices(user: User) -> list[QuerySet]:
    return [
        TOTPDevice.objects.filter(user=user),
        PasskeyDevice.objects.filter(user=user),
        RecoveryCodeDevice.objects.filter(user=user),
    ]


def remove_factor(user: User, *, kind: str, device_id: int, actor: Actor) -> None:
    """Remove the app ("totp") or one passkey ("passkey"). The view has checked a fresh second
    factor (sudo mode). Removing the last factor turns 2FA off, which an organisation that
    requires 2FA does not allow."""
    model = {"totp": TOTPDevice, "passkey": PasskeyDevice}.get(kind)
    if model is None:
        raise TwoFactorError("Unknown factor.", code="unknown_factor")
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, pk=device_id).first()
        if device is None:
            raise TwoFactorError("That factor is already gone.", code="not_found")
        apps = TOTPDevice.objects.filter(user=user, confirmed=True)
        keys = PasskeyDevice.objects.filter(user=user, confirmed=True)
        if model is TOTPDevice:
            apps = apps.exclude(pk=device.pk)
        else:
            keys = keys.exclude(pk=device.pk)
        last = not apps.exists() and not keys.exists()
        if last and (names := _required_by(user)):
            raise TwoFactorError(
                f"{', '.join(names)} requires two-factor authentication: add another factor "
                "before you remove this one.",
                code="required_by_organization",
            )
        name = device.name
        device.delete()
        if last:
            _turn_off(user, actor=actor, details={"removed": kind})
        else:
            _notice(
                user,
                event="removed",
                headline="A second factor was removed",
                actor=actor,
                factor_name=name,
            )


def _turn_off(user: User, *, actor: Actor, details: dict, **notice) -> None:
    for queryset in _devices(user):
        queryset.delete()
    User.objects.filter(pk=user.pk).update(two_factor_enabled=False)
    user.two_factor_enabled = False
    _record(user, action=AuditEvent.Action.TWO_FACTOR_DISABLED, actor=actor, details=details)
    _notice(
        user,
        event=notice.pop("event", "disabled"),
        headline="Two-factor authentication was turned off",
        actor=actor,
        **notice,
    )


def reset_two_factor(user: User, *, actor: Actor, reason: str) -> bool:
    """Ops: remove every factor of an account that lost its devices (with a reason). Its
    organisations that require 2FA start a new grace period. False when it had none."""
    reason = (reason or "").strip()
    if not reason:
        raise TwoFactorError("Say why two-factor authentication is reset.", code="reason_required")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.two_factor_enabled and not any(qs.exists() for qs in _devices(user)):
            return False
        _turn_off(
            user,
            actor=actor,
            details={"reset_by_ops": True, "reason": reason[:500]},
            event="reset",
            reason=reason[:500],
            actor_label=actor.label,
        )
        policy.start_grace_everywhere(user)
    return True
