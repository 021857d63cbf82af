from django.test import RequestFactory

from core.net import client_ip

rf = RequestFactory()


def request_from(peer: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return rf.get("/api/v1/x", **extra)


def test_the_peer_address_is_the_client_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_a_forged_forwarded_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_the_forwarded_address_is_believed_from_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("10.1.2.3", "198.51.100.1")) == "198.51.100.1"


def test_addresses_the_client_wrote_left_of_our_proxies_are_not_believed(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = request_from("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9")
    assert client_ip(request) == "198.51.100.1"


def test_a_garbage_forwarded_hop_stops_the_walk(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert client_ip(request_from("10.0.0.1", "not-an-ip")) == "10.0.0.1"


def test_ports_and_ipv4_mapped_addresses_are_normalised(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert client_ip(request_from("10.0.0.1", "198.51.100.1:4431")) == "198.51.100.1"
    assert client_ip(request_from("::ffff:203.0.113.9")) == "203.0.113.9"
    assert client_ip(request_from("10.0.0.1", "[2001:db8::1]:443")) == "2001:db8::1"


def test_an_unusable_peer_address_gives_none(settings):
    assert client_ip(request_from("")) is None
