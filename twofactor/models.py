"""Second-factor devices that django-otp has no model for, as django-otp devices.

- PasskeyDevice: a WebAuthn credential (public key only; the private key never leaves the
  authenticator). Verified by twofactor.passkeys, not by a typed token.
- RecoveryCodeDevice + RecoveryCode: ten single-use codes. django-otp's StaticToken keeps its
  codes in clear text; ours keep only a keyed hash (HMAC-SHA256 under TOKEN_HASH_KEY), so a
  copy of the database holds no working code.

The authenticator app is django-otp's own TOTPDevice (django_otp.plugins.otp_totp).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, TimestampMixin

from accounts.models import User

_RECOVERY_DOMAIN = b"quaygate-recovery-code:"


def normalise_recovery_code(code: str) -> str:
    """What people type: any case, with or without the dash and spaces."""
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def hash_recovery_code(code: str) -> str:
    key = settings.TOKEN_HASH_KEY
    key_bytes = key.encode() if isinstance(key, str) else key
    value = normalise_recovery_code(code).encode("ascii", "ignore")
    return hmac.digest(key_bytes, _RECOVERY_DOMAIN + value, "sha256").hex()


class PasskeyDevice(TimestampMixin, Device):
    """One registered passkey. `name` is what its owner called it ("Work laptop")."""

    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url")
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)

    class Meta(Device.Meta):
        verbose_name = "passkey"

    def verify_token(self, token) -> bool:
        return False  # a passkey answers a WebAuthn challenge (twofactor.passkeys), not a code


class RecoveryCodeDevice(TimestampMixin, Device):
    """A person's current set of recovery codes (one device per person)."""

    class Meta(Device.Meta):
        verbose_name = "recovery code set"

    def verify_token(self, token) -> bool:
        """Use one code: True once per code, ever (a conditional update, safe under races)."""
        digest = hash_recovery_code(token)
        used = self.codes.filter(code_hash=digest, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if used:
            self.set_last_used_timestamp()
        return used == 1

    def codes_left(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"recovery code {self.pk} ({'used' if self.used_at else 'unused'})"


class TwoFactorAccount(User):
    """A person as the ops console's two-factor page shows them: email, name, on or off, and
    the reset action. A proxy, so ops (who may not browse people) get this narrow view only."""

    class Meta:
        proxy = True
        verbose_name = "two-factor account"
        ordering = ["email"]
