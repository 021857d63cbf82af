"""Why a membership or invitation service refused: a stable code, a sentence and a field.

As with tokens.exceptions.TokenError, the portal attaches `message` to `field` and the API
turns `code` into a problem document; neither edge has to know the rule that was broken.
"""

from __future__ import annotations

from core.errors import ServiceError


class MemberError(ServiceError):
    """A membership or invitation service refused: "permission_denied", "invalid_email",
    "invalid_role", "already_member", "too_many_pending", "not_pending", "last_admin",
    "membership_gone"."""


class InvitationError(MemberError):
    """An invitation link could not be accepted: "unknown", "expired", "revoked", "used",
    "email_mismatch", "sign_in_first", "invalid_name", "invalid_password".

    `messages` carries every sentence when there are several (the password validators'), so a
    form can show each; `message` is always one of them.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(message, code=code, field=field)
        self.messages = list(messages) if messages else [message]
