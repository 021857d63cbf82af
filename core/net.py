"""The client's IP address, believing X-Forwarded-For only from our own proxies.

Used by the usage log, token authentication (IP allow-lists) and audit events, so that all of
them agree on who the client was. A forged X-Forwarded-For from the internet is ignored: only a
peer listed in settings.TRUSTED_PROXIES (addresses or CIDRs) may speak for the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in `value` (an IP, "ip:port" or "[ipv6]:port"), None when there is none."""
    value = value.strip()
    # "[2001:db8::1]:443" and "192.0.2.1:443" appear in some proxies' headers.
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


# The peer address comes from the server, is short, and repeats (clients, our proxies):
# parsing it costs ~10 µs, a cached answer nothing. Forwarded hops (client-written) are not cached.
_parse_peer = lru_cache(maxsize=1024)(_parse)


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the direct peer is one of our proxies (whose headers we believe)."""
    peer = _parse_peer(request.META.get("REMOTE_ADDR", ""))
    networks = _trusted_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    return peer is not None and bool(networks) and _is_trusted(peer, networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as a string, or None when the peer address is unusable.

    X-Forwarded-For is read right to left (the right end was appended by our own proxy), skipping
    trusted proxies; the first address that is not one of ours is the client. Anything left of
    it was written by the client and is not believed.

    Worked out once per request (authentication, the usage log and audit events all ask).
    """
    try:
        return request._qg_client_ip
    except AttributeError:
        pass
    request._qg_client_ip = address = _client_ip(request)
    return address


def _client_ip(request: HttpRequest) -> str | None:
    peer = _parse_peer(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    networks = _trusted_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # garbage in the chain: stop at the last address we could trust
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)
