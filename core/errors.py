"""A service's refusal: a stable machine `code`, a `message` for a person and the `field` it is
about. Every app's own error (tokens.exceptions.TokenError, members.exceptions.MemberError, …)
is one of these, so an edge shows any refusal the same way: the portal next to the field, the
API as a problem document with the code."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
