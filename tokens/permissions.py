"""DRF permission: the token must hold the scope the view needs for this method."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tokens.authentication import REALM
from tokens.state import TokenState

_METHOD_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This token does not have the {scope} scope this operation needs.")
        self.required_scope = scope
        # RFC 6750 §3: DRF's exception handler copies `auth_header` into WWW-Authenticate.
        self.auth_header = f'{REALM}, error="insufficient_scope", scope="{scope}"'


def required_scope(view, method: str) -> str | None:
    """`view.required_scopes` ({"GET": "alarms:read", "POST": "alarms:write"}) or
    `view.required_scope` (one scope for every method); None: any valid token will do."""
    by_method = getattr(view, "required_scopes", None)
    if by_method:
        return by_method.get(_METHOD_ALIASES.get(method, method))
    return getattr(view, "required_scope", None)


class HasScope(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        state = request.auth
        if not isinstance(state, TokenState):
            return False  # DRF answers 401 (NotAuthenticated) with our WWW-Authenticate
        needed = required_scope(view, request.method)
        if needed is not None and not state.has_scope(needed):
            raise InsufficientScope(needed)
        return True
