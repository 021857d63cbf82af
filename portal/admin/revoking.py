"""Ops console pieces the token, usage-log, anomaly and outbox admins share: the Revoke action
(through tokens.services.revoke_token, as ops), the permission it needs, the action locations,
and the redirect that takes a whole pasted secret out of a search URL. Here rather than in one
admin module so no admin imports another."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_utils import ask_reason
from tokens import format as token_format
from tokens import services as token_services
from tokens.actors import Actor
from tokens.exceptions import TokenError
from tokens.models import PersonalAccessToken, TokenSecret

# Revoking is one transaction per token; a few hundred at once is an incident, ten thousand is
# a mis-click on "select all". Past this, narrow the list first.
MAX_REVOKE_AT_ONCE = 500
# How many of the selected tokens the reason page lists by name.
_LISTED = 50

BOTH_LOCATIONS = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


# --- a secret pasted into the search box ------------------------------------------------------


def redirect_pasted_secret(
    model_admin: admin.ModelAdmin, request: HttpRequest
) -> HttpResponse | None:
    """A whole token in `?q=` is a secret in a URL (browser history, access logs). Send the
    browser on at once to a URL without it, searching by the token's display prefix instead."""
    term = request.GET.get("q", "").strip()
    if not token_format.is_well_formed(term):
        return None
    params = request.GET.copy()
    params["q"] = token_format.display_prefix(term)
    model_admin.message_user(
        request,
        "That was a whole token, which is a secret: search by its first eight characters "
        f"({params['q']}) instead. If it was leaked, revoke it.",
        messages.WARNING,
    )
    if model_admin.model is PersonalAccessToken:
        token_id = (
            TokenSecret.objects.filter(secret_hash=token_services.hash_secret(term))
            .values_list("token_id", flat=True)
            .first()
        )
        if token_id is not None:
            return HttpResponseRedirect(
                reverse("admin:tokens_personalaccesstoken_change", args=[token_id])
            )
    return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")


# --- revoking ---------------------------------------------------------------------------------


def revoke_tokens(
    model_admin: admin.ModelAdmin, request: HttpRequest, tokens: QuerySet[PersonalAccessToken]
) -> TemplateResponse | None:
    """The Revoke action, from the token list, a token's page or an anomaly: ask for a reason,
    then revoke each live token through the service, as ops."""
    live = tokens.filter(revoked_at__isnull=True).order_by("pk")
    total = live[: MAX_REVOKE_AT_ONCE + 1].count()
    if total == 0:
        model_admin.message_user(request, "Nothing to revoke: already revoked.", messages.INFO)
        return None
    if total > MAX_REVOKE_AT_ONCE:
        model_admin.message_user(
            request,
            f"More than {MAX_REVOKE_AT_ONCE} tokens selected. Narrow the list with a filter or "
            "a search and revoke in parts.",
            messages.ERROR,
        )
        return None
    reason = ask_reason(
        model_admin,
        request,
        objects=list(live.select_related("owner", "organization")[:_LISTED]),
        total=total,
        title="Revoke tokens",
        button=f"Revoke {total} token{'s' if total != 1 else ''}",
        label="Reason",
        help_text="Required. Its owner reads it in the revocation email, and it stays in the "
        "audit log. Never paste a secret here.",
    )
    if not isinstance(reason, str):
        return reason
    revoked, refused = _revoke_each(
        live, actor=Actor.from_request(request, ops=True), reason=reason
    )
    if revoked:
        model_admin.message_user(
            request,
            f"Revoked {revoked} token{'s' if revoked != 1 else ''}; "
            "their owners are being emailed.",
            messages.SUCCESS,
        )
    for line in refused:
        model_admin.message_user(request, f"Not revoked: {line}", messages.ERROR)
    return None


def _revoke_each(
    live: QuerySet[PersonalAccessToken], *, actor: Actor, reason: str
) -> tuple[int, list[str]]:
    """Revoke each token as ops; how many were revoked, and a line for each one refused."""
    revoked, refused = 0, []
    for token in live.select_related("owner", "organization"):
        try:
            token_services.revoke_token(
                token, actor=actor, reason=reason, kind=PersonalAccessToken.RevokedBy.OPS
            )
        except TokenError as error:
            refused.append(f"{token}: {error.message}")
        else:
            revoked += 1
    return revoked, refused


def may_revoke(request: HttpRequest) -> bool:
    return request.user.has_perm("tokens.change_personalaccesstoken")


class PastedSecretRedirectMixin:
    """A list whose search box may receive a whole token: redirect to its prefix at once."""

    def changelist_view(self, request, extra_context=None):
        return redirect_pasted_secret(self, request) or super().changelist_view(
            request, extra_context
        )
