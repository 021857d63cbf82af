"""Signing as GitHub's secret scanning does, for the tests: a P-256 key pair made here, its
public half published in GitHub's keys format, payloads signed with ECDSA/SHA-256 over the raw
body (DER, base64)."""

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

URL = "/api/v1/secret-scanning/github"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
FOUND_AT = "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a/deploy/settings.py"
TYPE = "quaygate_personal_access_token"


@dataclass
class GitHubKey:
    """A stand-in for one of GitHub's signing keys."""

    key_id: str
    private_key: ec.EllipticCurvePrivateKey

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    @property
    def pem(self) -> str:
        public = self.private_key.public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def new_key(key_id: str = KEY_ID) -> GitHubKey:
    return GitHubKey(key_id, ec.generate_private_key(ec.SECP256R1()))


def keys_document(*keys: GitHubKey) -> str:
    """GitHub's format (its /meta/public_keys/secret_scanning); the first key is current."""
    entries = [
        {"key_identifier": key.key_id, "key": key.pem, "is_current": n == 0}
        for n, key in enumerate(keys)
    ]
    return json.dumps({"public_keys": entries})


def configure_keys_file(settings, path: Path, *keys: GitHubKey) -> Path:
    path.write_text(keys_document(*keys))
    settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_FILE": str(path)}
    return path


def alert(token: str, *, url: str = FOUND_AT, source: str = "commit") -> dict:
    return {"token": token, "type": TYPE, "url": url, "source": source}


def deliver(client, key: GitHubKey, payload, *, body: bytes | None = None, **headers):
    """POST as GitHub does: the raw body, its signature and the key's identifier."""
    raw = body if body is not None else json.dumps(payload).encode()
    headers.setdefault("HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER", key.key_id)
    headers.setdefault("HTTP_GITHUB_PUBLIC_KEY_SIGNATURE", key.sign(raw))
    return client.post(URL, raw, content_type="application/json", **headers)
