"""Every error answer of the API is application/problem+json with a stable `code`; each becomes
one of these exceptions, by status, carrying that code (branch on `error.code`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One invalid parameter or body field of a 400."""

    code: str
    detail: str
    field: str | None = None


class QuaygateError(Exception):
    """Base of every error this client raises. `code` is the API's machine code."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "",
        title: str = "",
        request_id: str | None = None,
        errors: tuple[FieldError, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.title = title
        self.request_id = request_id
        self.errors = errors
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        head = f"{self.status} {self.code}: " if self.status else ""
        return f"{head}{self.detail}{where}"


class ConnectionFailed(QuaygateError):
    """The server could not be reached (or did not answer in time), after the retries."""


class BadRequest(QuaygateError):
    """400: invalid parameters or body; `errors` names each field."""


class AuthenticationFailed(QuaygateError):
    """401: no token, or it is invalid, expired, revoked or not allowed from this address."""


class PermissionDenied(QuaygateError):
    """403: the token lacks the scope the operation needs (`required_scope`)."""

    @property
    def required_scope(self) -> str | None:
        return getattr(self, "_scope", None)


class NotFound(QuaygateError):
    """404: no such object visible to this token."""


class Conflict(QuaygateError):
    """409: e.g. the token is no longer active, or an Idempotency-Key is in use or used."""


class Unprocessable(QuaygateError):
    """422: well-formed but refused (e.g. an Idempotency-Key reused for another request)."""


class RateLimited(QuaygateError):
    """429 after the retries (or a wait longer than the client will sleep): see `retry_after`."""


class ServerError(QuaygateError):
    """5xx after the retries."""


_BY_STATUS: dict[int, type[QuaygateError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
}


def error_for(status: int, body: Any, headers: Any, retry_after: float | None) -> QuaygateError:
    """The exception for an error answer (a problem document, or anything else a proxy sent)."""
    problem = body if isinstance(body, dict) else {}
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else QuaygateError)
    errors = tuple(
        FieldError(
            code=str(e.get("code", "")), detail=str(e.get("detail", "")), field=e.get("field")
        )
        for e in problem.get("errors", [])
        if isinstance(e, dict)
    )
    error = kind(
        str(problem.get("detail") or problem.get("title") or f"HTTP {status}"),
        status=status,
        code=str(problem.get("code", "")),
        title=str(problem.get("title", "")),
        request_id=problem.get("request_id") or headers.get("X-Request-Id"),
        errors=errors,
        retry_after=retry_after,
    )
    if isinstance(error, PermissionDenied):
        error._scope = _scope_from(headers.get("WWW-Authenticate", ""))
    return error


def _scope_from(challenge: str) -> str | None:
    marker = 'scope="'
    if marker not in challenge:
        return None
    return challenge.split(marker, 1)[1].split('"', 1)[0]
