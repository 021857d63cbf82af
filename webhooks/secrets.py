"""Webhook signing secrets: made, shown once, stored encrypted.

A signing secret cannot be stored as a hash like a token: we need it back to sign every
delivery. It is stored Fernet-encrypted (AES-128-CBC + HMAC) with WEBHOOK_SECRETS_KEY, or a key
derived from SECRET_KEY when that is unset, so a database dump alone does not give it away.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as random

from cryptography.fernet import Fernet
from django.conf import settings

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + random.token_urlsafe(32)


def hint(secret: str) -> str:
    """What the portal shows of a secret it no longer shows: its last four characters."""
    return f"…{secret[-4:]}"


def _fernet() -> Fernet:
    configured = settings.QUAYGATE.get("WEBHOOK_SECRETS_KEY") or ""
    material = configured or f"quaygate-webhook-secrets:{settings.SECRET_KEY}"
    key = base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
    return Fernet(key)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(stored: str) -> str:
    return _fernet().decrypt(stored.encode()).decode()
