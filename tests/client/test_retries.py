"""Retries, against a real HTTP server on loopback that answers from a script: 5xx of requests
safe to repeat are retried after Retry-After (seconds or an HTTP date), with the same
Idempotency-Key; a write without one is not; a connection refused is retried, then raised."""

import email.utils
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from quaygate import Client, ConnectionFailed, ServerError

PROBLEM = {
    "type": "about:blank",
    "title": "Unavailable",
    "status": 503,
    "code": "service_unavailable",
    "detail": "Briefly down.",
}


class Scripted:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], dict]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.requests.append((self.command, self.path, dict(self.headers)))
            status, headers, body = script.answers.pop(0)
            raw = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", script
    httpd.shutdown()
    httpd.server_close()


TOKEN_JSON = {"id": 1, "name": "t", "display_prefix": "qgp_AbCd", "organization": "Port"}


def client_for(url: str, slept: list[float], **options) -> Client:
    client = Client(url, "qgp_" + "x" * 40, **options)
    client._transport.sleep = slept.append
    return client


def test_a_get_is_retried_after_a_503s_retry_after(server):
    url, script = server
    script.answers = [(503, {"Retry-After": "2"}, PROBLEM), (200, {}, TOKEN_JSON)]
    slept: list[float] = []

    token = client_for(url, slept).token.get()

    assert token.name == "t"
    assert slept == [2.0]
    assert len(script.requests) == 2


def test_retry_after_as_an_http_date(server):
    url, script = server
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    script.answers = [
        (429, {"Retry-After": when}, {**PROBLEM, "status": 429}),
        (200, {}, TOKEN_JSON),
    ]
    slept: list[float] = []

    client_for(url, slept).token.get()

    assert len(slept) == 1 and 3 <= slept[0] <= 5


def test_a_write_is_retried_with_the_same_idempotency_key(server):
    url, script = server
    record = {
        "id": 7,
        "spreader": "EMX-001",
        "performed_at": "2026-11-30T08:00:00Z",
        "kind": "repair",
        "description": "d",
    }
    script.answers = [(502, {}, PROBLEM), (500, {}, PROBLEM), (201, {}, record)]
    slept: list[float] = []

    created = client_for(url, slept).maintenance.create(
        "EMX-001", performed_at="2026-11-30T08:00:00Z", kind="repair", description="d"
    )

    keys = {headers["Idempotency-Key"] for _, _, headers in script.requests}
    assert created.id == 7
    assert len(script.requests) == 3 and len(keys) == 1
    assert len(slept) == 2  # backoff: no Retry-After given


def test_a_write_without_a_key_is_not_retried_on_a_5xx(server):
    url, script = server
    script.answers = [(503, {"Retry-After": "1"}, PROBLEM)]
    slept: list[float] = []

    with pytest.raises(ServerError) as failed:
        client_for(url, slept).report_leaked_tokens(credentials=["qgp_x"])

    assert failed.value.code == "service_unavailable" and failed.value.retry_after == 1
    assert slept == [] and len(script.requests) == 1
    assert "Authorization" not in script.requests[0][2]


def test_retries_stop_after_max_retries(server):
    url, script = server
    script.answers = [(503, {"Retry-After": "1"}, PROBLEM)] * 3
    slept: list[float] = []

    with pytest.raises(ServerError):
        client_for(url, slept, max_retries=2).token.get()

    assert slept == [1.0, 1.0] and len(script.requests) == 3


def test_the_token_goes_only_in_the_authorization_header(server):
    url, script = server
    script.answers = [
        (200, {}, {"results": [], "next": f"{url}/api/v1/terminals?cursor=abc", "previous": None}),
        (200, {}, {"results": [], "next": None, "previous": None}),
    ]
    secret = "qgp_" + "x" * 40

    list(client_for(url, []).terminals.list(limit=5))

    assert [path for _, path, _ in script.requests] == [
        "/api/v1/terminals?limit=5",
        "/api/v1/terminals?cursor=abc",
    ]
    for _, path, headers in script.requests:
        assert secret not in path
        assert headers["Authorization"] == f"Bearer {secret}"


def test_a_next_link_to_another_host_is_fetched_from_ours(server):
    url, script = server
    script.answers = [
        (
            200,
            {},
            {
                "results": [],
                "next": "https://evil.example/api/v1/terminals?cursor=abc",
                "previous": None,
            },
        ),
        (200, {}, {"results": [], "next": None, "previous": None}),
    ]

    list(client_for(url, []).terminals.list())

    assert script.requests[1][1] == "/api/v1/terminals?cursor=abc"  # to our server, not evil


def test_a_refused_connection_is_retried_then_raised():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []

    with pytest.raises(ConnectionFailed) as failed:
        client_for(f"http://127.0.0.1:{port}", slept, max_retries=2).token.get()

    assert len(slept) == 2
    assert "qgp_" not in str(failed.value)
