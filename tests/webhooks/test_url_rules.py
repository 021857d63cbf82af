"""SSRF rules: what a webhook URL may lead to, at save time and again at connect time.

The resolver is replaced (urlcheck.resolve is the one place names are resolved), so these
tests say exactly what a name resolves to; the connect-time test then proves nothing was sent.
"""

import ipaddress

import pytest
from django.db import transaction

from tokens.actors import Actor
from webhooks import transport, urlcheck
from webhooks.services import send_test_event
from webhooks.urlcheck import WebhookUrlError, check_url


@pytest.fixture
def resolves(monkeypatch):
    answers: dict[str, list[str]] = {}

    def fake(host, port):
        if host not in answers:
            raise OSError("no such name")
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(urlcheck, "resolve", fake)
    return answers


@pytest.fixture
def production_rules(settings):
    settings.QUAYGATE = {**settings.QUAYGATE, "WEBHOOK_ALLOW_LOOPBACK": False}


def code_for(url: str) -> str:
    with pytest.raises(WebhookUrlError) as refused:
        check_url(url)
    return refused.value.code


def test_a_public_https_url_is_accepted(resolves):
    resolves["hooks.example.com"] = ["93.184.216.34", "2606:2800:220:1::1"]
    assert check_url(" https://hooks.example.com/q ") == "https://hooks.example.com/q"


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "169.254.169.254",  # cloud metadata
        "169.254.10.10",  # link-local
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fe80::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "224.0.0.1",
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(resolves, address):
    resolves["internal.example.com"] = [address]
    assert code_for("https://internal.example.com/") == "webhook_url_private"


def test_one_private_answer_among_public_ones_is_enough_to_refuse(resolves):
    resolves["rebind.example.com"] = ["93.184.216.34", "10.1.2.3"]
    assert code_for("https://rebind.example.com/") == "webhook_url_private"


def test_literal_private_addresses_are_refused_too(resolves, production_rules):
    for url in (
        "https://10.0.0.1/",
        "https://[::1]/",
        "https://127.0.0.1/",
        "https://169.254.169.254/",
    ):
        resolves[url.split("/")[2].strip("[]")] = [url.split("/")[2].strip("[]")]
        assert code_for(url) == "webhook_url_private", url


def test_loopback_is_refused_in_production(resolves, production_rules):
    resolves["localhost"] = ["127.0.0.1"]
    assert code_for("http://localhost:8080/") == "webhook_url_private"


def test_plain_http_is_allowed_only_to_loopback_and_only_outside_production(resolves):
    resolves["localhost"] = ["127.0.0.1"]
    resolves["hooks.example.com"] = ["93.184.216.34"]
    assert check_url("http://localhost:8080/hook")
    assert code_for("http://hooks.example.com/") == "webhook_url_scheme"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/",
        "javascript:alert(1)",
        "hooks.example.com",
        "file:///etc/passwd",
        "gopher://x/",
    ],
)
def test_only_http_urls(resolves, url):
    assert code_for(url) == "webhook_url_scheme"


def test_credentials_in_the_url_are_refused(resolves):
    resolves["hooks.example.com"] = ["93.184.216.34"]
    assert code_for("https://user:pw@hooks.example.com/") == "webhook_url_credentials"
    assert code_for("https://user@hooks.example.com/") == "webhook_url_credentials"


def test_a_url_over_2000_characters_is_refused(resolves):
    resolves["hooks.example.com"] = ["93.184.216.34"]
    url = "https://hooks.example.com/" + "a" * 1975
    assert len(url) == 2001
    assert code_for(url) == "webhook_url_too_long"
    assert check_url(url[:2000])


def test_a_name_that_does_not_resolve_is_refused(resolves):
    assert code_for("https://nowhere.example.com/") == "webhook_url_private"


@pytest.mark.django_db
def test_at_connect_time_a_name_now_resolving_privately_is_not_connected_to(
    resolves, receiver, make_endpoint, org, django_capture_on_commit_callbacks
):
    """Saved while it resolved to loopback (allowed here), then rebound to a metadata address:
    the sender resolves again, refuses, and the receiver hears nothing."""
    resolves["hooks.test"] = ["127.0.0.1"]
    url = f"http://hooks.test:{receiver.port}/hook"
    endpoint, receiver.secret = make_endpoint(org, url)
    resolves["hooks.test"] = ["169.254.169.254"]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        delivery = send_test_event(endpoint, actor=Actor.system())
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert "metadata" in delivery.last_error
    assert receiver.requests == []


def test_the_transport_refuses_before_connecting(resolves):
    resolves["evil.test"] = ["10.0.0.7"]
    response = transport.post("https://evil.test/", body=b"{}", headers={})
    assert response.status is None and not response.retryable
    assert "private" in response.error
