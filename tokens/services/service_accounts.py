"""Service accounts (issue 17): an organisation's own identity for an integration, whose tokens
belong to the organisation and outlive the admin who made them.

Only the organisation's admins create, change and archive service accounts and issue, regenerate
and revoke their tokens (tokens.services._common.require_manage). A service token needs no
approval: only admins make them. Its emails go to the account's responsible contact
(tokens.recipients); when the contact leaves the organisation (members.services) the contact is
cleared, the admins are emailed and the account "needs a new contact" until one is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from notifications.models import Notification
from notifications.services import NotificationRequest, queue_notifications
from tokens.actors import USER, Actor
from tokens.exceptions import InvalidInput, PermissionDenied
from tokens.models import AuditEvent, PersonalAccessToken, ServiceAccount
from tokens.services._common import IssuedToken
from tokens.services.audit import record_audit_event
from tokens.services.issue import issue_token
from tokens.services.revoke import revoke_token

Action = AuditEvent.Action


def create_service_account(
    organization: Organization,
    *,
    name: str,
    contact: User,
    actor: Actor,
    description: str = "",
) -> ServiceAccount:
    """A new service account of `organization`, with `contact` (a member) responsible for it."""
    _require_admin(actor, organization)
    name = _clean_name(name, organization=organization)
    description = _clean_description(description)
    _require_member(contact, organization)
    try:
        with transaction.atomic():
            account = ServiceAccount.objects.create(
                organization=organization,
                name=name,
                description=description,
                contact=contact,
                created_by=actor.user,
            )
            _audit(account, actor=actor, action=Action.SERVICE_ACCOUNT_CREATED, contact=contact)
    except IntegrityError:  # the same name at the same moment: the unique index decided
        raise _name_taken(name) from None
    return account


def change_contact(account: ServiceAccount, *, contact: User, actor: Actor) -> ServiceAccount:
    """Name who is responsible for the account (and gets its tokens' emails)."""
    _require_admin(actor, account.organization)
    _require_member(contact, account.organization)
    with transaction.atomic():
        account = _locked(account)
        _require_not_archived(account)
        if account.contact_id == contact.pk:
            return account
        before = account.contact
        account.contact = contact
        account.save(update_fields=["contact"])
        _audit(
            account,
            actor=actor,
            action=Action.SERVICE_ACCOUNT_CONTACT_CHANGED,
            contact=contact,
            extra={"previous_contact": before.email if before else None},
        )
    return account


def archive_service_account(account: ServiceAccount, *, actor: Actor) -> int:
    """Retire the account: its live tokens are revoked (never deleted), no new ones can be
    issued, its history stays. Returns how many tokens were revoked."""
    _require_admin(actor, account.organization)
    with transaction.atomic():
        account = _locked(account)
        _require_not_archived(account)
        account.archived_at = timezone.now()
        account.archived_by = actor.user
        account.save(update_fields=["archived_at", "archived_by"])
        revoked = 0
        for token in account.tokens.filter(revoked_at__isnull=True):
            revoke_token(token, actor=actor, reason=f"Service account {account.name} archived")
            revoked += 1
        _audit(
            account,
            actor=actor,
            action=Action.SERVICE_ACCOUNT_ARCHIVED,
            extra={"tokens_revoked": revoked},
        )
    return revoked


def issue_service_token(
    account: ServiceAccount, *, actor: Actor, name: str, scopes: Sequence[str], **settings: Any
) -> IssuedToken:
    """A token owned by the organisation through `account`, created by an admin (`actor`).
    Takes issue_token's settings; no approval is needed."""
    _require_admin(actor, account.organization)
    if actor.kind != USER or actor.user is None:
        raise PermissionDenied(
            "Service tokens are created by an organisation admin.", code="permission_denied"
        )
    if account.is_archived:
        raise InvalidInput(
            f"{account.name} is archived: it cannot get new tokens.",
            code="service_account_archived",
        )
    return issue_token(
        owner=actor.user,
        organization=account.organization,
        service_account=account,
        name=name,
        scopes=scopes,
        actor=actor,
        **settings,
    )


def release_contact(*, user: User, organization: Organization, actor: Actor) -> int:
    """`user` left `organisation`: the accounts they were the contact of need a new one. The
    contact is cleared (an audit event each) and the admins are emailed, in the caller's
    transaction. Returns how many accounts lost their contact."""
    accounts = list(
        ServiceAccount.objects.select_for_update()
        .filter(organization=organization, contact=user, archived_at__isnull=True)
        .order_by("pk")
    )
    for account in accounts:
        account.contact = None
        account.save(update_fields=["contact"])
        _audit(
            account,
            actor=actor,
            action=Action.SERVICE_ACCOUNT_CONTACT_CHANGED,
            extra={"previous_contact": user.email, "reason": "contact left the organisation"},
        )
    if accounts:
        _tell_admins_contact_left(accounts, organization=organization, member=user)
    return len(accounts)


# --- the steps ------------------------------------------------------------------------------


def _require_admin(actor: Actor, organization: Organization) -> None:
    if not actor.administers(organization):
        raise PermissionDenied(
            f"Only an admin of {organization.name} can manage its service accounts.",
            code="permission_denied",
        )


def _require_member(user: User | None, organization: Organization) -> None:
    if (
        user is None
        or not user.is_active
        or Membership.objects.role_of(user=user, organization=organization) is None
    ):
        raise InvalidInput(
            f"The contact must be a member of {organization.name}.",
            code="contact_not_a_member",
            field="contact",
        )


def _require_not_archived(account: ServiceAccount) -> None:
    if account.is_archived:
        raise InvalidInput(
            f"{account.name} is archived.", code="service_account_archived", field="name"
        )


def _clean_name(name: str, *, organization: Organization) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Give the service account a name.", code="name_required", field="name")
    if len(name) > 100 or not name.isprintable():
        raise InvalidInput(
            "Use up to 100 printable characters for the name.", code="invalid_name", field="name"
        )
    live = ServiceAccount.objects.filter(organization=organization, archived_at__isnull=True)
    if live.filter(name__iexact=name).exists():
        raise _name_taken(name)
    return name


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput(
        f"There is already a service account called “{name}” (names are not case-sensitive). "
        "Pick another name.",
        code="service_account_name_taken",
        field="name",
    )


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 1000:
        raise InvalidInput(
            "Keep the description under 1,000 characters.",
            code="description_too_long",
            field="description",
        )
    return description


def _locked(account: ServiceAccount) -> ServiceAccount:
    return (
        ServiceAccount.objects.select_for_update(of=("self",))
        .select_related("organization", "contact")
        .get(pk=account.pk)
    )


def _audit(
    account: ServiceAccount,
    *,
    actor: Actor,
    action: str,
    contact: User | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    details: dict[str, Any] = {"service_account": account.name, "service_account_id": account.pk}
    if contact is not None:
        details["contact"] = contact.email
    return record_audit_event(
        action=action,
        actor=actor,
        organization=account.organization,
        details={**details, **(extra or {})},
    )


def _tell_admins_contact_left(
    accounts: list[ServiceAccount], *, organization: Organization, member: User
) -> None:
    live_tokens = PersonalAccessToken.objects.active().filter(service_account__in=accounts)
    context = {
        "organization": organization.name,
        "member_email": member.email,
        "service_accounts": [account.name for account in accounts],
        "live_tokens": live_tokens.count(),
        "accounts_url": f"/orgs/{organization.slug}/service-accounts/",
    }
    stamp = "-".join(str(account.pk) for account in accounts)
    queue_notifications(
        [
            NotificationRequest(
                kind=Notification.Kind.SERVICE_CONTACT_NEEDED,
                user=admin,
                context=context,
                dedup_key=f"service_contact_needed:{stamp}:{member.pk}:{admin.pk}:"
                f"{timezone.now():%Y%m%d%H%M%S}",
            )
            for admin in User.objects.admins_of(organization.id)
            if admin.pk != member.pk
        ]
    )
