"""A token's IP allow-list: which client addresses may use it. Pure Python, no Django.

The one rule for both the row (`PersonalAccessToken.allows_ip`) and the cached state the API
checks on every request (`tokens.cache.TokenState.allows_ip`), so the two can't disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    # Parsed once per process per allow-list: the hot path sees the same few lists again and
    # again, and parsing a CIDR costs more than the membership test itself.
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def ip_allowed(allowed: Iterable[str], ip: str | None) -> bool:
    """True when `allowed` is empty (any address) or `ip` falls in one of its CIDRs."""
    cidrs = allowed if isinstance(allowed, tuple) else tuple(allowed)
    if not cidrs:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(cidrs))
