"""One HTTP POST to a receiver, safely: vetted addresses, no redirects, a deadline, a read cap.

httpx resolves and connects through httpcore's network backend; ours resolves the name itself,
refuses it unless every address is allowed (webhooks.urlcheck) and connects to the vetted
address, so the check and the connection see the same DNS answer. TLS still verifies the
certificate against the URL's host name (httpcore passes it as server_hostname).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

from webhooks.urlcheck import AddressRefused, vetted

KEEP_BYTES = 1024  # of the response, for the deliveries page


class VettingBackend(httpcore.SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error: Exception | None = None
        for address in vetted(host, port):
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                last_error = error
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")


class VettingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(retries=0)
        # httpx does not take a network backend; its pool (httpcore's) does.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=1,
            network_backend=VettingBackend(),
        )


@dataclass(frozen=True, slots=True)
class Response:
    status: int | None  # None when no response came (timeout, refused, connection error)
    elapsed_ms: int
    body: str  # the first KEEP_BYTES, decoded leniently
    error: str = ""  # why it failed before or while reading the response
    retryable: bool = False  # timeouts and connection errors are; a refused address is not


def _conf(name: str) -> int:
    return settings.QUAYGATE[name]


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Response:
    timeout = float(_conf("WEBHOOK_TIMEOUT_SECONDS"))
    cap = _conf("WEBHOOK_MAX_RESPONSE_BYTES")
    started = time.monotonic()
    deadline = started + timeout

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with (
            httpx.Client(
                transport=VettingTransport(), timeout=timeout, follow_redirects=False
            ) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            kept, error, slow = _read_capped(response, cap=cap, deadline=deadline)
            return Response(response.status_code, elapsed(), kept, error, retryable=slow)
    except AddressRefused as refused:
        return Response(None, elapsed(), "", f"Refused: {refused}")
    except httpx.TimeoutException:
        return Response(None, elapsed(), "", f"No response within {timeout:g} s", retryable=True)
    except httpx.TransportError as error:
        return Response(None, elapsed(), "", _describe(error), retryable=True)


def _read_capped(response: httpx.Response, *, cap: int, deadline: float) -> tuple[str, str, bool]:
    """The first KEEP_BYTES of the body, and an error when it passes `cap` (not retried) or the
    deadline (retried like a timeout: a receiver dripping bytes must not hold the worker)."""
    kept = bytearray()
    total = 0
    for chunk in response.iter_raw(chunk_size=16384):
        total += len(chunk)
        if len(kept) < KEEP_BYTES:
            kept += chunk[: KEEP_BYTES - len(kept)]
        if total > cap:
            return _text(kept), f"The response was larger than {cap // 1024} KB", False
        if time.monotonic() > deadline:
            return _text(kept), "The response took longer than the timeout", True
    return _text(kept), "", False


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _describe(error: httpx.TransportError) -> str:
    return f"{type(error).__name__}: {error}"[:300] if str(error) else type(error).__name__
