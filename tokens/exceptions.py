"""Why a token service refused: one exception type with a stable code, a sentence and a field.

Portal forms attach `message` to `field`; the API turns the same exception into a problem
document with `code`. Neither edge has to know the rule that was broken.
"""

from core.errors import ServiceError


class TokenError(ServiceError):
    """A token service refused (core.errors.ServiceError: code, message, field)."""


class InvalidInput(TokenError):
    """Malformed input: an unknown scope, a bad CIDR, a date in the past."""


class PolicyViolation(TokenError):
    """Well-formed, but the organisation's token policy forbids it."""


class PermissionDenied(TokenError):
    """This actor may not do this to this token."""

    status = 403


class TokenNotActive(TokenError):
    """The token is revoked or expired, so it cannot be regenerated or changed."""

    status = 409
