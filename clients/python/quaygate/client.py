"""The Quaygate client: one object per token, its resources as attributes.

from quaygate import Client

client = Client("https://quaygate.example")      # the token from $QUAYGATE_TOKEN
for alarm in client.alarms.list(state="active"):  # every page, one request per page
    print(alarm.spreader, alarm.message)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx

from quaygate._transport import Transport
from quaygate.errors import QuaygateError
from quaygate.models import (
    Alarm,
    ChangelogEntry,
    LeakReportReceipt,
    MaintenanceRecord,
    Model,
    RateLimit,
    RotatedToken,
    Spreader,
    TelemetrySeries,
    Terminal,
    Token,
)

__version__ = "1.0.0"
TOKEN_VARIABLE = "QUAYGATE_TOKEN"  # noqa: S105 (a variable name)
URL_VARIABLE = "QUAYGATE_URL"
V1 = "/api/v1"

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a list: its items and the cursor links (None at either end)."""

    items: tuple[M, ...]
    next: str | None
    previous: str | None


class Pager(Generic[M]):
    """Iterating gives every item of every page, fetching the next page only when needed;
    `pages()` gives the pages themselves. Nothing is fetched until you iterate."""

    def __init__(
        self, transport: Transport, path: str, params: dict[str, Any], model: type[M]
    ) -> None:
        self._transport = transport
        self._path = path
        self._params = params
        self._model = model

    def pages(self) -> Iterator[Page[M]]:
        path: str | None = self._path
        params: dict[str, Any] | None = self._params
        while path is not None:
            data = self._transport.request("GET", path, params=params).json()
            yield Page(
                items=tuple(self._model.from_json(item) for item in data["results"]),
                next=data.get("next"),
                previous=data.get("previous"),
            )
            path = self._transport.path_of(data["next"]) if data.get("next") else None
            params = None  # the cursor link carries the filters

    def __iter__(self) -> Iterator[M]:
        for page in self.pages():
            yield from page.items


class _Resource:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._transport.request("GET", V1 + path, params=params).json()

    def _post(self, path: str, body: Any = None, **options: Any) -> Any:
        return self._transport.request("POST", V1 + path, json=body, **options).json()

    def _pager(self, path: str, model: type[M], params: dict[str, Any]) -> Pager[M]:
        return Pager(self._transport, V1 + path, params, model)


class Terminals(_Resource):
    def list(self, *, limit: int | None = None) -> Pager[Terminal]:
        return self._pager("/terminals", Terminal, {"limit": limit})


class Spreaders(_Resource):
    def list(
        self,
        *,
        terminal: str | None = None,
        status: str | list[str] | None = None,
        model: str | None = None,
        ordering: str | None = None,
        limit: int | None = None,
    ) -> Pager[Spreader]:
        params = {"terminal": terminal, "status": status, "model": model, "ordering": ordering}
        return self._pager("/spreaders", Spreader, {**params, "limit": limit})

    def get(self, serial: str) -> Spreader:
        return Spreader.from_json(self._get(f"/spreaders/{_segment(serial)}"))

    def telemetry(
        self,
        serial: str,
        *,
        metrics: str | list[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        resolution: str | None = None,
        tz: str | None = None,
    ) -> TelemetrySeries:
        params = {
            "metrics": metrics,
            "since": since,
            "until": until,
            "resolution": resolution,
            "tz": tz,
        }
        data = self._get(f"/spreaders/{_segment(serial)}/telemetry", params)
        return TelemetrySeries.from_json(data)


class Alarms(_Resource):
    def list(
        self,
        *,
        spreader: str | None = None,
        state: str | None = None,
        severity: str | list[str] | None = None,
        acknowledged: bool | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> Pager[Alarm]:
        params = {
            "spreader": spreader,
            "state": state,
            "severity": severity,
            "acknowledged": acknowledged,
            "since": since,
            "until": until,
            "limit": limit,
        }
        return self._pager("/alarms", Alarm, params)

    def acknowledge(self, alarm_id: int, *, idempotency_key: str | None = None) -> Alarm:
        data = self._post(f"/alarms/{int(alarm_id)}/acknowledge", idempotency_key=idempotency_key)
        return Alarm.from_json(data)


class Maintenance(_Resource):
    def list(
        self,
        *,
        spreader: str | None = None,
        kind: str | list[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> Pager[MaintenanceRecord]:
        params = {"spreader": spreader, "kind": kind, "since": since, "until": until}
        return self._pager("/maintenance", MaintenanceRecord, {**params, "limit": limit})

    def create(
        self,
        serial: str,
        *,
        performed_at: datetime | str,
        kind: str,
        description: str,
        operating_hours: float | None = None,
        idempotency_key: str | None = None,
    ) -> MaintenanceRecord:
        """Log a maintenance record. Retried safely: the Idempotency-Key is made once here (or
        pass your own, e.g. stored with the job that logs it, to survive a restart)."""
        when = performed_at.isoformat() if isinstance(performed_at, datetime) else performed_at
        body: dict[str, Any] = {"performed_at": when, "kind": kind, "description": description}
        if operating_hours is not None:
            body["operating_hours"] = operating_hours
        data = self._post(
            f"/spreaders/{_segment(serial)}/maintenance", body, idempotency_key=idempotency_key
        )
        return MaintenanceRecord.from_json(data)


class TokenResource(_Resource):
    def get(self) -> Token:
        """This token's metadata: scopes, terminals, expiry, last use. Never the secret."""
        return Token.from_json(self._get("/token"))

    def revoke(self) -> None:
        """Revoke this token for good: every later call with it is a 401."""
        self._transport.request("DELETE", V1 + "/token")


class Client:
    """A client for one token. `token` defaults to $QUAYGATE_TOKEN, `base_url` to $QUAYGATE_URL.

    The token is sent only in the Authorization header, to `base_url` only, and is never in a
    repr, a log line or an exception. Writes carry an Idempotency-Key, so retrying them is safe.
    A 429 is retried after its Retry-After; a 5xx (or a dropped connection) of a request that
    is safe to repeat is retried with backoff; `max_retries` times at most, never sleeping longer
    than `max_retry_wait` seconds at once (a longer Retry-After raises RateLimited at once).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        http: httpx.Client | None = None,
    ) -> None:
        base_url = base_url or os.environ.get(URL_VARIABLE)
        if not base_url:
            raise QuaygateError(f"Pass base_url or set ${URL_VARIABLE}")
        self._transport = Transport(
            base_url=base_url,
            token=token or os.environ.get(TOKEN_VARIABLE) or None,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            http=http,
            user_agent=f"quaygate-python/{__version__}",
        )
        self.terminals = Terminals(self._transport)
        self.spreaders = Spreaders(self._transport)
        self.alarms = Alarms(self._transport)
        self.maintenance = Maintenance(self._transport)
        self.token = TokenResource(self._transport)

    def __repr__(self) -> str:
        token = self._transport.token
        shown = f"{token[:8]}…" if token else "None"
        return f"Client(base_url={self._transport.base_url!r}, token={shown})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The X-RateLimit-* headers of the last answer (None before the first)."""
        return self._transport.rate_limit

    def rotate(self, *, overlap_hours: int = 0, idempotency_key: str | None = None) -> RotatedToken:
        """Rotate this token's secret and use the new one from now on. The new secret is
        `.token` of the answer (store it where your deployment reads it); the old one keeps
        working for `overlap_hours` (0 to 24), so other processes can switch over."""
        data = self._transport.request(
            "POST",
            V1 + "/token/rotate",
            json={"overlap_hours": overlap_hours},
            idempotency_key=idempotency_key,
        ).json()
        rotated = RotatedToken.from_json(data)
        self._transport.token = rotated.token
        return rotated

    def report_leaked_tokens(self, *, credentials: list[str]) -> LeakReportReceipt:
        """Report token strings found in public (no token needed; this one is not sent)."""
        data = self._transport.request(
            "POST",
            V1 + "/credentials/revoke",
            json={"credentials": credentials},
            authenticated=False,
        ).json()
        return LeakReportReceipt.from_json(data)

    def changelog(self, *, limit: int | None = None) -> Pager[ChangelogEntry]:
        """The API's changelog, newest first."""
        return Pager(self._transport, V1 + "/changelog", {"limit": limit}, ChangelogEntry)

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Any operation, by method and path (`/api/v1/...`): the decoded JSON answer (None for
        204). Same token handling, retries and errors as the typed methods."""
        response = self._transport.request(method, path, params=params, json=json)
        return response.json() if response.content else None

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _segment(value: str) -> str:
    """A path segment as given, refused if it could change the path (/, ?, #)."""
    if not value or any(c in value for c in "/?#%") or value in (".", ".."):
        raise QuaygateError(f"Not a valid path value: {value!r}")
    return value
