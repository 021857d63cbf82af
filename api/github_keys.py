"""GitHub's secret-scanning public keys, and checking that an alert was signed with one.

GitHub signs every alert delivery: `Github-Public-Key-Identifier` names the key and
`Github-Public-Key-Signature` is a base64 DER ECDSA signature (NIST P-256, SHA-256) over the raw
body. GitHub publishes the keys as

    {"public_keys": [{"key_identifier": "…", "key": "-----BEGIN PUBLIC KEY-----…", "is_current": true}]}

Nothing here reaches the network while an alert is answered. The keys come from the file
QUAYGATE["SECRET_SCANNING_GITHUB_KEYS_FILE"] names (that document, as GitHub serves it; re-read
when it changes) and from the rows `refresh_github_keys` writes when
QUAYGATE["SECRET_SCANNING_GITHUB_KEYS_URL"] is set (hourly, from beat; rows, so that every web
node sees the same keys). A key in either is accepted, current or not: GitHub still signs
in-flight deliveries with the key it is rotating away from.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import SecretScanningKey

logger = logging.getLogger(__name__)

SCANNER = "github"
KEY_ID_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
# A DER P-256 signature is at most 72 bytes (96 in base64); GitHub's identifiers are 64 hex
# characters. Anything far longer is refused before any work.
MAX_SIGNATURE_CHARS = 200
MAX_KEY_ID_CHARS = 128
MAX_KEYS_DOCUMENT_BYTES = 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0


class SignatureRejected(Exception):
    """The delivery is not signed by a key we know. `reason` is a stable word for the counter
    (missing, unknown_key, malformed, bad_signature); the message is for the sender."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KeySetError(ValueError):
    """A keys document that is not GitHub's format, or holds no usable P-256 key."""


def _setting(name: str) -> str:
    return getattr(settings, "QUAYGATE", {}).get(name, "") or ""


# --- the keys ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _public_key(pem: str) -> ec.EllipticCurvePublicKey:
    """The parsed key (parsed once per process: a PEM costs more to parse than to verify with)."""
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise KeySetError(f"not a PEM public key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeySetError("not a NIST P-256 (secp256r1) key")
    return key


def parse_key_set(document: bytes | str) -> dict[str, tuple[str, bool]]:
    """GitHub's keys document -> {key_identifier: (PEM, is_current)}, every key checked to be a
    P-256 public key. A key that is not is left out (and logged); none usable is an error."""
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as error:
        raise KeySetError(f"not JSON: {error}") from None
    entries = data.get("public_keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeySetError('no "public_keys" list')
    keys: dict[str, tuple[str, bool]] = {}
    for entry in entries:
        identifier, pem = _entry_fields(entry)
        if identifier is None or pem is None:
            logger.warning("Secret-scanning keys: an entry without key_identifier/key, skipped")
            continue
        try:
            _public_key(pem)
        except KeySetError as error:
            logger.warning("Secret-scanning key %s skipped: %s", identifier[:16], error)
            continue
        keys[identifier] = (pem, entry.get("is_current") is True)
    if not keys:
        raise KeySetError("no usable P-256 public key")
    return keys


def _entry_fields(entry: Any) -> tuple[str | None, str | None]:
    if not isinstance(entry, dict):
        return None, None
    identifier, pem = entry.get("key_identifier"), entry.get("key")
    if not isinstance(identifier, str) or not identifier or len(identifier) > MAX_KEY_ID_CHARS:
        identifier = None
    return identifier, pem if isinstance(pem, str) and pem else None


@functools.lru_cache(maxsize=4)
def _keys_in_file(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    """The file's keys, cached until the file changes (its mtime or size)."""
    try:
        keys = parse_key_set(Path(path).read_bytes())
    except (OSError, KeySetError) as error:
        logger.error("SECRET_SCANNING_GITHUB_KEYS_FILE %s is unusable: %s", path, error)
        return {}
    return {identifier: pem for identifier, (pem, _) in keys.items()}


def _file_keys() -> dict[str, str]:
    path = _setting("SECRET_SCANNING_GITHUB_KEYS_FILE")
    if not path:
        return {}
    try:
        stat = Path(path).stat()
    except OSError as error:
        logger.error("SECRET_SCANNING_GITHUB_KEYS_FILE %s is unusable: %s", path, error)
        return {}
    return _keys_in_file(path, stat.st_mtime_ns, stat.st_size)


def key_for(key_identifier: str) -> ec.EllipticCurvePublicKey | None:
    """The key GitHub names, from the configured file, else from the refreshed rows."""
    pem = _file_keys().get(key_identifier)
    if pem is None:
        pem = (
            SecretScanningKey.objects.filter(scanner=SCANNER, key_identifier=key_identifier)
            .values_list("key", flat=True)
            .first()
        )
    if pem is None:
        return None
    try:
        return _public_key(pem)
    except KeySetError:
        return None


# --- the signature ----------------------------------------------------------------------------


def verify_signature(body: bytes, *, key_identifier: str | None, signature: str | None) -> None:
    """Return if `body` was signed with the named GitHub key; raise SignatureRejected if not."""
    if not key_identifier or not signature:
        raise SignatureRejected(
            "missing", f"Send the {KEY_ID_HEADER} and {SIGNATURE_HEADER} headers."
        )
    if len(key_identifier) > MAX_KEY_ID_CHARS or not key_identifier.isprintable():
        raise SignatureRejected("unknown_key", f"{KEY_ID_HEADER} names no key we know.")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise SignatureRejected("malformed", f"{SIGNATURE_HEADER} is not a signature.")
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("malformed", f"{SIGNATURE_HEADER} is not base64.") from None
    key = key_for(key_identifier)
    if key is None:
        raise SignatureRejected("unknown_key", f"{KEY_ID_HEADER} names no key we know.")
    try:
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureRejected(
            "bad_signature", "The signature does not match the body and the named key."
        ) from None


# --- refreshing the rows from GitHub ----------------------------------------------------------


def refresh_github_keys(*, url: str | None = None, timeout: float = FETCH_TIMEOUT_SECONDS) -> int:
    """Fetch GitHub's keys document from `url` (default: the setting) and make the stored rows
    exactly its keys. Returns how many there are. On any failure the stored keys stay as they
    were and KeySetError (or OSError) is raised: a bad fetch never empties the key set."""
    url = url or _setting("SECRET_SCANNING_GITHUB_KEYS_URL")
    if not url.startswith(("https://", "http://")):
        raise KeySetError(f"SECRET_SCANNING_GITHUB_KEYS_URL must be an http(s) URL, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, headers={"Accept": "application/json", "User-Agent": "Quaygate secret scanning"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        document = response.read(MAX_KEYS_DOCUMENT_BYTES + 1)
    if len(document) > MAX_KEYS_DOCUMENT_BYTES:
        raise KeySetError(f"the keys document is over {MAX_KEYS_DOCUMENT_BYTES} bytes")
    keys = parse_key_set(document)
    now = timezone.now()
    with transaction.atomic():
        SecretScanningKey.objects.filter(scanner=SCANNER).exclude(key_identifier__in=keys).delete()
        for identifier, (pem, current) in keys.items():
            SecretScanningKey.objects.update_or_create(
                scanner=SCANNER,
                key_identifier=identifier,
                defaults={"key": pem, "is_current": current, "fetched_at": now},
            )
    return len(keys)
