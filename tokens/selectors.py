"""Reads with tenancy built in: what a person may see of tokens and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.http import Http404

from accounts.models import Membership, Organization, User
from tokens import audit_chain
from tokens.models import AuditEvent, AuditEventQuerySet, PersonalAccessToken, TokenQuerySet

if TYPE_CHECKING:
    from tokens.state import TokenState


def membership_of(user: User, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()


def organizations_of(user: User):
    return Organization.objects.filter(memberships__user=user).order_by("name")


def is_org_admin(user: User, organization: Organization) -> bool:
    return Membership.objects.is_admin(user=user, organization=organization)


def tokens_visible_to(user: User) -> TokenQuerySet:
    """The user's own personal tokens, the service tokens they are the contact of (to read,
    not to manage), plus every token of the organisations they administer. A service token's
    creator sees it as an admin, not as its owner: once they are not one, it is not theirs."""
    if not user.is_authenticated:
        return PersonalAccessToken.objects.none()
    administered = Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values(
        "organization_id"
    )
    return PersonalAccessToken.objects.filter(
        Q(owner=user, service_account__isnull=True)
        | Q(service_account__contact=user, organization__memberships__user=user)
        | Q(organization_id__in=administered)
    ).select_related("owner", "organization", "service_account__contact")


def token_for(user: User, token_id: int) -> PersonalAccessToken:
    """The token if `user` may see it; 404 otherwise (never 403: no existence leak)."""
    token = tokens_visible_to(user).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token")
    return token


def can_manage_token(user: User, token: PersonalAccessToken) -> bool:
    if not user.is_authenticated:
        return False
    if token.owner_id == user.pk and token.service_account_id is None:
        return True
    return is_org_admin(user, token.organization)


def audit_events_visible_to(user: User, organization: Organization) -> AuditEventQuerySet:
    """An organisation's audit log, for its members; nothing for anyone else."""
    if not Membership.objects.filter(user=user, organization=organization).exists():
        return AuditEvent.objects.none()
    return AuditEvent.objects.for_org(organization).select_related("actor_user", "token")


def speaks_for_an_admin(token: TokenState) -> bool:
    """The one rule for admin-only scopes (audit:read): may this token act with its
    organisation's admin authority right now? Today: its owner is an admin of the token's
    organisation (checked per request, so a demoted admin's token loses it at once). Service
    tokens, when they exist, are the other case that belongs here."""
    return Membership.objects.filter(
        user_id=token.owner_id, organization_id=token.organization_id, role=Membership.Role.ADMIN
    ).exists()


def audit_events_for_token(token: TokenState) -> AuditEventQuerySet:
    """The token's organisation's audit log; nothing for a sandbox token (it reads no
    production rows)."""
    if token.kind != PersonalAccessToken.Kind.PRODUCTION:
        return AuditEvent.objects.none()
    # The chain key as well: the API reads in chain order, which the (chain, seq) index serves.
    key = audit_chain.chain_key(token.organization_id)
    return AuditEvent.objects.filter(organization_id=token.organization_id, chain__key=key)
