import logging

import pytest

from telemetry import geo
from telemetry.geo import country_for


def test_a_public_address_gets_its_country_from_the_bundled_database():
    assert country_for("8.8.8.8") == "US"


@pytest.mark.parametrize("ip", ["10.1.2.3", "127.0.0.1", "192.0.2.1", "not-an-ip", "", None])
def test_private_reserved_or_malformed_addresses_have_no_country(ip):
    assert country_for(ip) == ""


def test_an_mmdb_path_without_a_reader_library_falls_back_to_geoip2fast(settings, caplog):
    geo._mmdb.cache_clear()
    settings.QUAYGATE = {**settings.QUAYGATE, "GEOIP_MMDB_PATH": "/nonexistent/GeoLite2.mmdb"}
    with caplog.at_level(logging.WARNING, logger="telemetry.geo"):
        assert country_for("8.8.8.8") == "US"
    assert "geoip2fast" in caplog.text
    geo._mmdb.cache_clear()


def test_the_database_is_loaded_once_per_process():
    country_for("8.8.8.8")
    loaded = geo._geoip2fast()
    country_for("1.1.1.1")
    assert geo._geoip2fast() is loaded
