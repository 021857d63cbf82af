from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    """A second factor for the portal (issue 16): authenticator apps (django-otp's TOTP device),
    passkeys (WebAuthn through py_webauthn) and recovery codes, and the organisation policy that
    requires them. Below members (invitations start a new member's grace), above tokens (it
    writes the audit log and drops cached token states)."""

    name = "twofactor"
    verbose_name = "Two-factor authentication"
