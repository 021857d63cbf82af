"""GitHub's secret-scanning keys: from the configured file, or refreshed (by the beat task) from
a URL into the database; never fetched while an alert waits. The refresh is tested against a
tiny HTTP server on 127.0.0.1 that the test starts: nothing here leaves the machine."""

import hashlib
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api import github_keys
from api.models import SecretScanningKey
from api.tasks import refresh_secret_scanning_keys_task
from tests.api.github_signing import (
    URL,
    alert,
    configure_keys_file,
    deliver,
    keys_document,
    new_key,
)
from tokens import format as token_format

pytestmark = pytest.mark.django_db

# The sample delivery in GitHub's partner-program documentation, signed with GitHub's published
# test key: our verification must accept exactly what GitHub sends.
GITHUB_SAMPLE_KEY_ID = "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d"
GITHUB_SAMPLE_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsz9ugWDj5jK5ELBK42ynytbo38gP
HzZFI03Exwz8Lh/tCfL3YxwMdLjB+bMznsanlhK0RwcGP3IDb34kQDIo3Q==
-----END PUBLIC KEY-----
"""
GITHUB_SAMPLE_SIGNATURE = "MEUCIFLZzeK++IhS+y276SRk2Pe5LfDrfvTXu6iwKKcFGCrvAiEAhHN2kDOhy2I6eGkOFmxNkOJ+L2y8oQ9A2T9GGJo6WJY="
GITHUB_SAMPLE_BODY = (
    b'[{"token":"some_token","type":"some_type","url":"some_url","source":"some_source"}]'
)


class KeysServer:
    """GitHub's keys endpoint, played by a thread on loopback: answers `status` and `body`."""

    def __init__(self) -> None:
        self.status, self.body, self.requests = 200, b"", 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests += 1
                self.send_response(served.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/meta/public_keys/secret_scanning"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, body: str | bytes, status: int = 200) -> None:
        self.status, self.body = status, body.encode() if isinstance(body, str) else body

    def __enter__(self) -> "KeysServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def keys_server(settings) -> Iterator[KeysServer]:
    with KeysServer() as server:
        settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_URL": server.url}
        yield server


@pytest.fixture
def no_network(monkeypatch) -> None:
    """Any attempt to fetch anything fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("reached for the network while answering an alert")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def stored_keys() -> dict[str, bool]:
    return dict(SecretScanningKey.objects.values_list("key_identifier", "is_current"))


# --- the configured file ------------------------------------------------------------------------


def test_githubs_own_sample_delivery_is_accepted(settings, tmp_path, api_client, no_network):
    path = tmp_path / "keys.json"
    entry = {"key_identifier": GITHUB_SAMPLE_KEY_ID, "key": GITHUB_SAMPLE_PEM, "is_current": True}
    path.write_text(json.dumps({"public_keys": [entry]}))
    settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_FILE": str(path)}

    response = api_client().post(
        URL,
        GITHUB_SAMPLE_BODY,
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=GITHUB_SAMPLE_KEY_ID,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=GITHUB_SAMPLE_SIGNATURE,
    )

    assert response.status_code == 200
    assert response.json() == [
        {
            "token_hash": hashlib.sha256(b"some_token").hexdigest(),
            "token_type": "some_type",
            "label": "false_positive",
        }
    ]


def test_the_keys_file_is_read_again_when_it_changes(settings, tmp_path, api_client):
    old, new = new_key("old"), new_key("new")
    path = configure_keys_file(settings, tmp_path / "keys.json", old)
    payload = [alert(token_format.generate())]
    assert deliver(api_client(), old, payload).status_code == 200

    path.write_text(keys_document(new))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert deliver(api_client(), new, payload).status_code == 200
    assert deliver(api_client(), old, payload).status_code == 401


def test_a_key_that_is_not_p256_is_left_out(settings, tmp_path, api_client):
    good = new_key("good")
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    document = json.loads(keys_document(good))
    document["public_keys"].append({"key_identifier": "p384", "key": pem, "is_current": False})
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_FILE": str(path)}

    assert set(github_keys.parse_key_set(path.read_text())) == {"good"}
    assert deliver(api_client(), good, [alert("x")]).status_code == 200


@pytest.mark.parametrize("content", [None, "not json", '{"public_keys": []}', "[]"])
def test_a_missing_or_unusable_keys_file_refuses_every_delivery(
    settings, tmp_path, api_client, content
):
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_FILE": str(path)}

    response = deliver(api_client(), new_key(), [alert("x")])

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"


# --- refreshed from a URL -------------------------------------------------------------------------


def test_a_refreshed_key_is_accepted_and_the_alert_never_fetches_anything(
    keys_server, api_client, monkeypatch
):
    key = new_key("refreshed")
    keys_server.serve(keys_document(key))

    assert github_keys.refresh_github_keys() == 1
    assert stored_keys() == {"refreshed": True}

    def refuse(*args, **kwargs):
        raise AssertionError("reached for the network while answering an alert")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    response = deliver(api_client(), key, [alert(token_format.generate())])
    assert response.status_code == 200
    assert keys_server.requests == 1  # the refresh's, and no other


def test_a_refresh_makes_the_stored_keys_exactly_githubs(keys_server):
    one, two, three = new_key("one"), new_key("two"), new_key("three")
    keys_server.serve(keys_document(one, two))
    github_keys.refresh_github_keys()

    keys_server.serve(keys_document(three, two))
    assert github_keys.refresh_github_keys() == 2

    assert stored_keys() == {"three": True, "two": False}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, "{}"),
        (200, "<html>rate limited</html>"),
        (200, '{"public_keys": []}'),
        (200, '{"public_keys": [{"key_identifier": "x", "key": "not a PEM"}]}'),
        (200, "x" * (github_keys.MAX_KEYS_DOCUMENT_BYTES + 1)),
    ],
)
def test_a_failed_refresh_keeps_the_stored_keys(keys_server, api_client, status, body):
    key = new_key("kept")
    keys_server.serve(keys_document(key))
    github_keys.refresh_github_keys()
    keys_server.serve(body, status=status)

    with pytest.raises((OSError, github_keys.KeySetError)):
        github_keys.refresh_github_keys()

    assert stored_keys() == {"kept": True}
    assert deliver(api_client(), key, [alert("x")]).status_code == 200


def test_the_refresh_task_fetches_when_a_url_is_configured_and_survives_failure(keys_server):
    keys_server.serve(keys_document(new_key("from-task")))
    assert refresh_secret_scanning_keys_task.delay().get() == 1
    assert stored_keys() == {"from-task": True}

    keys_server.serve("down", status=503)
    assert refresh_secret_scanning_keys_task.delay().get() == 0
    assert stored_keys() == {"from-task": True}


def test_the_refresh_task_does_nothing_without_a_url(settings, no_network):
    settings.QUAYGATE = {**settings.QUAYGATE, "SECRET_SCANNING_GITHUB_KEYS_URL": ""}

    assert refresh_secret_scanning_keys_task.delay().get() == 0
    assert not SecretScanningKey.objects.exists()


def test_the_refresh_is_on_the_beat_schedule_hourly(settings):
    (entry,) = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "api.refresh_secret_scanning_keys"
    ]
    assert entry["schedule"] == 3600.0


def test_a_refresh_url_must_be_http(settings):
    settings.QUAYGATE = {
        **settings.QUAYGATE,
        "SECRET_SCANNING_GITHUB_KEYS_URL": "file:///etc/passwd",
    }

    with pytest.raises(github_keys.KeySetError):
        github_keys.refresh_github_keys()
