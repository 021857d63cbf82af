"""SSRF safety: a webhook URL may only lead to a public address.

Checked twice: when the URL is saved (a clear form error) and again at connect time, on the
addresses the name resolves to *then* (webhooks.transport), so a name that resolved publicly
when saved and privately later (DNS rebinding) is still refused. Allowed is what
`ipaddress` calls global: not private, shared (CGNAT), loopback, link-local (which holds the
cloud metadata address 169.254.169.254), multicast, reserved or unspecified. Loopback, and
plain http to it, only where WEBHOOK_ALLOW_LOOPBACK is on (the embedded default and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named in errors so a person sees why; all of them are non-global anyway.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class WebhookUrlError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AddressRefused(Exception):
    """Raised at connect time: the name resolves to an address we do not send to."""


def loopback_allowed() -> bool:
    return bool(settings.QUAYGATE.get("WEBHOOK_ALLOW_LOOPBACK"))


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to. The one place names are resolved (tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [_unmapped(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos]


def _unmapped(address: IPAddress) -> IPAddress:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def refusal(address: IPAddress) -> str | None:
    """Why we would not connect to `address`, or None when we would."""
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if loopback_allowed() else "a loopback address"
    if address.is_global and not address.is_multicast:
        return None
    if address.is_link_local:
        return "a link-local address"
    return "a private or reserved address"


def vetted(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to; AddressRefused when any of them is not allowed."""
    try:
        addresses = resolve(host, port)
    except OSError as error:
        raise AddressRefused(f"{host} does not resolve") from error
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    for address in addresses:
        if (why := refusal(address)) is not None:
            raise AddressRefused(f"{host} resolves to {why} ({address})")
    return addresses


def check_url(url: str) -> str:
    """The URL, stripped, when it may be saved; WebhookUrlError with a message otherwise."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(
            f"The URL is longer than {MAX_URL_LENGTH} characters.", code="webhook_url_too_long"
        )
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise WebhookUrlError("That is not a valid URL.", code="webhook_url_invalid") from error
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookUrlError("Enter an https:// URL.", code="webhook_url_scheme")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError(
            "Remove the user name and password from the URL: the signature proves the request "
            "is ours, and credentials in a URL end up in logs.",
            code="webhook_url_credentials",
        )
    try:
        addresses = vetted(parts.hostname, port)
    except AddressRefused as error:
        raise WebhookUrlError(
            f"Quaygate does not send webhooks there: {error}.", code="webhook_url_private"
        ) from error
    if parts.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise WebhookUrlError(
            "Use https://: plain http is allowed only to this machine (loopback) in development.",
            code="webhook_url_scheme",
        )
    return url
