"""The calling token itself: inspect it, revoke it, rotate its secret (any valid token)."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import api_operation
from api.serializers import RotatedTokenOut, RotateInput, TokenOut
from api.views.base import ApiView, idempotent
from core.net import client_ip
from tokens import services
from tokens.actors import Actor
from tokens.models import PersonalAccessToken, TokenSecret
from tokens.state import TokenState


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def state_payload(state: TokenState) -> dict:
    """TokenOut's fields, from the cached state (`last_used_at` may lag by a minute or two).

    Worked out once per decoded state (a cached state serves many requests); a copy each time.
    """
    payload = state.memo.get("payload")
    if payload is None:
        payload = state.memo["payload"] = _payload(state)
    return {
        **payload,
        "scopes": [*payload["scopes"]],
        "terminals": [*payload["terminals"]],
        "allowed_ips": [*payload["allowed_ips"]],
        "owner": {**payload["owner"]},
    }


def _payload(state: TokenState) -> dict:
    return {
        "id": state.id,
        "name": state.name,
        "display_prefix": state.display_prefix,
        "organization": state.organization_name,
        "owner": state.owner,
        "scopes": list(state.scopes),
        "terminal_access": "all" if state.terminal_ids is None else "selected",
        "terminals": list(state.terminal_codes),
        "allowed_ips": list(state.allowed_ips),
        "rate_limit_per_hour": state.rate_limit_per_hour,
        "created_at": _iso(state.created_at),
        "expires_at": _iso(state.expires_at),
        "last_used_at": _iso(state.last_used_at),
        "regenerated_at": _iso(state.regenerated_at),
    }


class TokenSelfView(ApiView):
    required_scope = None  # any valid token may look at, revoke or rotate itself
    serializer_class = TokenOut

    def load_token(self) -> PersonalAccessToken:
        return (
            PersonalAccessToken.objects.select_related("organization", "owner", "service_account")
            .prefetch_related("terminals")
            .get(pk=self.token.id)
        )

    def actor(self, token: PersonalAccessToken) -> Actor:
        request = self.request._request
        return Actor.for_token(
            token, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
        )

    def context(self) -> dict[str, int]:
        return {"rate_limit_per_hour": self.token.rate_limit_per_hour}


class TokenDetail(TokenSelfView):
    @api_operation(
        summary="Inspect this token",
        description="The calling token's metadata: name, display prefix, scopes, terminals, "
        "IP allow-list, rate limit, expiry and last use. Never the secret.",
        tags=["Token"],
        operation_id="token_retrieve",
        scope=None,
        responses={200: TokenOut},
    )
    def get(self, request: Request) -> Response:
        # From the verified state authentication already holds: no query on a cached token.
        return Response(state_payload(self.token))

    @api_operation(
        summary="Revoke this token",
        description="Revokes the calling token for good; the next request with it gets 401. "
        "Use it when a deployment retires, or when you suspect the token leaked. Its owner "
        "can see the revocation in the portal's audit log.",
        tags=["Token"],
        operation_id="token_destroy",
        scope=None,
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        token = self.load_token()
        services.revoke_token(token, actor=self.actor(token), reason="Revoked through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRotate(TokenSelfView):
    @api_operation(
        summary="Rotate this token's secret",
        description="Issues a new secret for the calling token, with the same settings and a "
        "fresh expiry within the organisation's policy. The new secret is in `token`, shown "
        "this once. The old secret stops working at once, or after `overlap_hours` (at most "
        "24) so running deployments can switch over without downtime. A token that is no "
        "longer active answers 409.",
        tags=["Token"],
        operation_id="token_rotate",
        scope=None,
        request=RotateInput,
        responses={201: RotatedTokenOut},
        errors=[400, 409, 413, 415],
        idempotent=True,
        replayable=False,
    )
    @idempotent(replayable=False)
    def post(self, request: Request) -> Response:
        overlap = self.validated_body(RotateInput)["overlap_hours"]
        token = self.load_token()
        issued = services.regenerate_token(token, actor=self.actor(token), overlap_hours=overlap)
        token = self.load_token()
        body = TokenOut(token, context=self.context()).data
        body["token"] = issued.secret
        body["old_secret_valid_until"] = (
            TokenSecret.objects.filter(token=token, retired_at__isnull=False)
            .order_by("-retired_at")
            .values_list("valid_until", flat=True)
            .first()
        )
        response = Response(body, status=status.HTTP_201_CREATED)
        # The one response that carries a secret: no cache anywhere may keep it.
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
