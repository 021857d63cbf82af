"""A real SMTP server on loopback (aiosmtpd) and a real Celery worker that mails through it.

The worker is a separate process on the test database; it reaches the SMTP server that runs in
this process through EMAIL_HOST/EMAIL_PORT. The root conftest turns these into the `smtp` and
`mail_worker` fixtures, so every end-to-end email test uses the same pair.
"""

import email
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from django.db import connection

from tests.support.worker import celery_worker


class Inbox:
    """What the SMTP server accepted: one parsed message per DATA."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self._lock:
            return [message["Message-ID"] for message in self.messages]


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started on the same port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def mailing_worker(smtp: SmtpServer, extra_env: dict[str, str] | None = None) -> Iterator[None]:
    """A real worker, on Redis as its broker and PostgreSQL shared with the tests, sending its
    email to `smtp`. Skips (or fails under QUAYGATE_REQUIRE_SERVICES) without PostgreSQL."""
    from tests.conftest import require

    require(
        connection.vendor == "postgresql",
        "needs DATABASE_URL on PostgreSQL (shared with the worker)",
    )
    from portal.celery import app

    app.control.purge()  # tasks a previous run left behind point at rows of another database
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
        "EMAIL_TIMEOUT": "5",
    } | (extra_env or {})
    # The context manager terminates (then kills) the worker and reaps it, whatever happens.
    with celery_worker(extra_env=env):
        yield
