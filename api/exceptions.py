"""The API's own exceptions (api.problems turns each into a problem document).

FleetInputError: why a fleet service refused — a stable code, a sentence for a person and the
field it is about; the same shape as tokens.exceptions.TokenError.
"""

from rest_framework import exceptions


class FleetInputError(Exception):
    def __init__(self, message: str, *, code: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class TooManyRequests(exceptions.Throttled):
    """Per-address limits (failed authentications, leak reports), not the token's quota."""

    default_code = "too_many_requests"
    default_detail = "Too many requests from this address."
