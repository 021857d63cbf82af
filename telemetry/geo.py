"""Country of an IP address, offline. Never a network lookup.

geoip2fast ships its own data file, so it works out of the box. A MaxMind .mmdb file is used
instead when settings.QUAYGATE["GEOIP_MMDB_PATH"] names one *and* a reader library (maxminddb)
is installed; otherwise we say so once in the log and keep geoip2fast. Each database is loaded
once per process (loading takes ~0.1 s; a lookup ~40 µs).
"""

import importlib
import ipaddress
import logging
from collections.abc import Callable
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

Lookup = Callable[[str], str]


@cache
def _geoip2fast() -> Lookup:
    from geoip2fast import GeoIP2Fast

    database = GeoIP2Fast(verbose=False)

    def lookup(ip: str) -> str:
        return database.lookup(ip).country_code or ""

    return lookup


@cache
def _mmdb(path: str) -> Lookup | None:
    try:
        maxminddb = importlib.import_module("maxminddb")
    except ImportError:
        logger.warning(
            "GEOIP_MMDB_PATH is set but the maxminddb package is not installed; "
            "using geoip2fast's bundled data instead"
        )
        return None
    try:
        reader = maxminddb.open_database(path)
    except (OSError, ValueError) as exc:
        logger.warning("Cannot open GEOIP_MMDB_PATH %s (%s); using geoip2fast", path, exc)
        return None

    def lookup(ip: str) -> str:
        found = reader.get(ip) or {}
        country = found.get("country") or found.get("registered_country") or {}
        return country.get("iso_code") or ""

    return lookup


def _lookup() -> Lookup:
    path = settings.QUAYGATE.get("GEOIP_MMDB_PATH") or ""
    return (path and _mmdb(path)) or _geoip2fast()


def country_for(ip: str | None) -> str:
    """ISO 3166 alpha-2 code, or "" for private, reserved, unknown or malformed addresses."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if not address.is_global:
        return ""
    try:
        code = _lookup()(str(address))
    except Exception:  # a lookup must never break logging
        logger.exception("GeoIP lookup failed")
        return ""
    code = (code or "").upper()
    return code if len(code) == 2 and code.isalpha() else ""
