"""A real webhook receiver on loopback: http.server in a thread, started by the test.

It verifies every request with the documented algorithm (docs/webhooks/verify.py, the snippet
the API docs show, loaded as it is) and remembers each event id it accepted, so a test can
check "exactly once per id" as a deduplicating receiver would see it. `mode` says how it
answers: "ok" (204), a status code, "hang", "big" (10 MB), "redirect", "hold-first".
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_documented_verifier():
    namespace: dict = {}
    source = (ROOT / "docs" / "webhooks" / "verify.py").read_text()
    exec(compile(source, "docs/webhooks/verify.py", "exec"), namespace)  # noqa: S102
    return namespace["verify_quaygate_signature"]


verify_quaygate_signature = load_documented_verifier()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    def __init__(self, *, secret: str = "", mode: object = "ok", port: int | None = None) -> None:
        self.secret = secret
        self.mode = mode
        self.port = port or free_port()
        self.requests: list[dict] = []  # every request: headers, body, verified
        self.accepted: dict[str, int] = {}  # event id -> times accepted (2xx answered)
        self.holding = threading.Event()
        self.release = threading.Event()
        self._held = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def verified(self) -> list[dict]:
        return [r for r in self.requests if r["verified"]]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        signature = handler.headers.get("Quaygate-Signature", "")
        verified = bool(self.secret) and verify_quaygate_signature(body, signature, self.secret)
        record = {
            "headers": dict(handler.headers),
            "body": body,
            "json": json.loads(body or b"{}"),
            "verified": verified,
            "signature": signature,
        }
        with self._lock:
            self.requests.append(record)
            hold = self.mode == "hold-first" and not self._held
            self._held = self._held or hold
        if hold:
            self.holding.set()
            self.release.wait(timeout=60)
            handler.close_connection = True
            return  # never answers: the client is gone
        self._answer(handler, record, verified)

    def _answer(self, handler, record, verified) -> None:
        mode = self.mode
        if mode == "hang":
            self.release.wait(timeout=60)
            return
        if mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if mode == "big":
            handler.send_response(200)
            handler.send_header("Content-Length", str(10 * 1024 * 1024))
            handler.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(160):
                    handler.wfile.write(chunk)
            except OSError:
                pass  # the sender stopped reading, as it should
            return
        status = mode if isinstance(mode, int) else (204 if verified else 401)
        if 200 <= status < 300:
            with self._lock:
                event_id = record["json"].get("id", "")
                self.accepted[event_id] = self.accepted.get(event_id, 0) + 1
        body = b"thanks" if status != 204 else b""
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def wait_until(predicate, *, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
