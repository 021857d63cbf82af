"""The API's own exceptions (api.problems turns each into a problem document, as it does
fleet.exceptions.FleetInputError and tokens.exceptions.TokenError)."""

from rest_framework import exceptions


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class TooManyRequests(exceptions.Throttled):
    """Per-address limits (failed authentications, leak reports), not the token's quota."""

    default_code = "too_many_requests"
    default_detail = "Too many requests from this address."


# --- Idempotency-Key (api.idempotency) ----------------------------------------------------------


class IdempotencyKeyInUse(exceptions.APIException):
    """The first request with this key is still running: this duplicate is not run."""

    status_code = 409
    default_code = "idempotency_key_in_use"
    default_detail = (
        "A request with this Idempotency-Key is still being processed. Retry after it has "
        "finished to get its response."
    )
    wait = 1  # -> Retry-After: the first request is usually done within a second


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was already used for a different request (method, path or body). "
        "Use a new key for a new request."
    )


class IdempotencyKeyUsed(exceptions.APIException):
    """A completed request whose response is never replayed (it carried a secret)."""

    status_code = 409
    default_code = "idempotency_key_used"
    default_detail = (
        "This Idempotency-Key already rotated the token. The new secret was shown once, in "
        "that response, and is not stored, so it cannot be replayed. If that response was lost, "
        "rotate again with a new key while the old secret is in its overlap, or regenerate the "
        "token in the portal."
    )


class SignatureNotVerified(exceptions.APIException):
    """A secret-scanning alert that is not signed by a key of the scanner we know."""

    status_code = 401
    default_code = "invalid_signature"
    default_detail = "The request is not signed with a known GitHub secret-scanning key."
    # 401 carries WWW-Authenticate (RFC 9110): here the scheme is the scanner's signature.
    auth_header = 'Github-Public-Key-Signature realm="quaygate"'


class SandboxOnly(exceptions.PermissionDenied):
    """A production (qgp_) token on an operation that exists only in the sandbox."""

    default_code = "sandbox_only"
    default_detail = (
        "This operation works on the sandbox fleet only: call it with a sandbox token (qgs_). "
        "A production token never changes sandbox data."
    )
