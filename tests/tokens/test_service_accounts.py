"""Service accounts and their tokens (issue 17): owned by the organisation, managed by its admins
only, outliving their creator, with their emails going to the account's contact."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from members import services as member_services
from notifications.models import Notification
from tests.conftest import make_user
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import InvalidInput, PermissionDenied
from tokens.expiry import send_expiry_notices
from tokens.models import AuditEvent, PersonalAccessToken, ServiceAccount, TokenPolicy

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def second_admin(org):
    return make_user("second@rotterdam.example", org, Membership.Role.ADMIN, full_name="Sam")


@pytest.fixture
def as_admin(org_admin) -> Actor:
    return Actor.for_user(org_admin, ip="192.0.2.7", user_agent="pytest")


@pytest.fixture
def account(org, member, as_admin) -> ServiceAccount:
    return services.create_service_account(
        org, name="SAP connector", contact=member, actor=as_admin, description="Nightly sync"
    )


def service_token(account, actor, **fields):
    fields.setdefault("name", "sap prod")
    fields.setdefault("scopes", ["fleet:read", "alarms:write"])
    return services.issue_service_token(account, actor=actor, **fields)


def notices_to(user, kind=None):
    found = Notification.objects.filter(user=user)
    if kind is not None:
        found = found.filter(kind=kind)
    return list(found)


def live(token) -> bool:
    return PersonalAccessToken.objects.get(pk=token.pk).revoked_at is None


# --- the account ------------------------------------------------------------------------------


def test_an_admin_creates_a_service_account_and_it_is_audited(account, org, org_admin, member):
    assert account.organization == org
    assert account.contact == member
    assert account.created_by == org_admin
    assert not account.needs_contact and not account.is_archived
    event = AuditEvent.objects.get(action=Action.SERVICE_ACCOUNT_CREATED)
    assert event.actor_user == org_admin and event.organization == org
    assert event.details["service_account"] == "SAP connector"
    assert event.details["contact"] == member.email


def test_a_member_cannot_create_a_service_account(org, member):
    with pytest.raises(PermissionDenied):
        services.create_service_account(
            org, name="Mine", contact=member, actor=Actor.for_user(member)
        )
    assert not ServiceAccount.objects.exists()


def test_a_name_clash_ignores_case_and_says_so(account, org, member, as_admin):
    with pytest.raises(InvalidInput) as caught:
        services.create_service_account(
            org, name="  sap   CONNECTOR ", contact=member, actor=as_admin
        )

    assert caught.value.code == "service_account_name_taken"
    assert caught.value.field == "name"
    assert "already a service account called" in str(caught.value)
    assert ServiceAccount.objects.count() == 1


def test_the_same_name_is_fine_in_another_organisation_and_after_archiving(
    account, other_org, outsider, as_admin, org, member
):
    other = services.create_service_account(
        other_org, name="SAP connector", contact=outsider, actor=Actor.cli()
    )
    services.archive_service_account(account, actor=as_admin)
    again = services.create_service_account(
        org, name="SAP connector", contact=member, actor=as_admin
    )

    assert other.pk != again.pk != account.pk


def test_the_contact_must_be_a_member_of_the_organisation(org, outsider, as_admin):
    with pytest.raises(InvalidInput) as caught:
        services.create_service_account(org, name="SAP", contact=outsider, actor=as_admin)
    assert caught.value.code == "contact_not_a_member"


def test_a_blank_or_overlong_name_is_refused(org, member, as_admin):
    for name in ("", "   ", "x" * 101):
        with pytest.raises(InvalidInput):
            services.create_service_account(org, name=name, contact=member, actor=as_admin)


def test_changing_the_contact_is_audited_and_only_for_admins(account, owner, member, as_admin):
    with pytest.raises(PermissionDenied):
        services.change_contact(account, contact=owner, actor=Actor.for_user(member))

    services.change_contact(account, contact=owner, actor=as_admin)

    account.refresh_from_db()
    assert account.contact == owner
    event = AuditEvent.objects.get(action=Action.SERVICE_ACCOUNT_CONTACT_CHANGED)
    assert event.details["contact"] == owner.email
    assert event.details["previous_contact"] == member.email


# --- its tokens -------------------------------------------------------------------------------


def test_a_service_token_belongs_to_the_account_and_skips_approval(
    account, org, org_admin, as_admin
):
    TokenPolicy.objects.update_or_create(organization=org, defaults={"require_approval": "all"})

    issued = service_token(account, as_admin)

    token = issued.token
    assert token.service_account == account and token.is_service_token
    assert token.owner == org_admin  # the creator, kept for the history
    assert token.approval == "" and not token.is_pending
    event = AuditEvent.objects.get(action=Action.TOKEN_CREATED, token=token)
    assert event.details["service_account"] == "SAP connector"


def test_only_admins_issue_service_tokens(account, member):
    with pytest.raises(PermissionDenied):
        service_token(account, Actor.for_user(member))
    assert not PersonalAccessToken.objects.exists()


def test_names_are_unique_per_account_not_per_creator(account, org, member, org_admin, as_admin):
    service_token(account, as_admin, name="prod")
    with pytest.raises(InvalidInput) as caught:
        service_token(account, as_admin, name="prod")
    assert "SAP connector already has a token called" in str(caught.value)
    # The creator's own personal token may have the same name.
    services.issue_token(
        owner=org_admin, organization=org, name="prod", scopes=["fleet:read"], actor=as_admin
    )


def test_the_creation_email_goes_to_the_contact_not_the_creator(
    account, member, org_admin, as_admin
):
    service_token(account, as_admin)

    [notice] = notices_to(member, Notification.Kind.TOKEN_CREATED)
    assert "SAP connector" in notice.subject and "SAP connector" in notice.body_text
    assert notices_to(org_admin, Notification.Kind.TOKEN_CREATED) == []


def test_a_creator_who_is_no_longer_an_admin_cannot_manage_it(
    account, org_admin, second_admin, as_admin
):
    token = service_token(account, as_admin).token
    Membership.objects.filter(user=org_admin).update(role=Membership.Role.MEMBER)

    with pytest.raises(PermissionDenied) as caught:
        services.revoke_token(token, actor=Actor.for_user(org_admin))
    assert "admin" in str(caught.value)
    with pytest.raises(PermissionDenied):
        services.regenerate_token(token, actor=Actor.for_user(org_admin))

    services.regenerate_token(token, actor=Actor.for_user(second_admin))
    services.revoke_token(token, actor=Actor.for_user(second_admin))
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked_by_kind == "org_admin"


def test_the_revocation_email_goes_to_the_contact(account, member, org_admin, as_admin):
    token = service_token(account, as_admin).token
    services.revoke_token(token, actor=as_admin, reason="Rotating the connector")

    [notice] = notices_to(member, Notification.Kind.TOKEN_REVOKED)
    assert "service token sap prod of SAP connector" in notice.subject
    assert notices_to(org_admin, Notification.Kind.TOKEN_REVOKED) == []


def test_expiry_warnings_go_to_the_contact(account, member, org_admin, as_admin):
    token = service_token(account, as_admin).token
    PersonalAccessToken.objects.filter(pk=token.pk).update(
        created_at=timezone.now() - timedelta(days=60),
        expires_at=timezone.now() + timedelta(days=6),
    )

    send_expiry_notices()

    [notice] = notices_to(member, Notification.Kind.TOKEN_EXPIRING)
    assert "SAP connector" in notice.subject
    assert notices_to(org_admin, Notification.Kind.TOKEN_EXPIRING) == []


def test_archiving_revokes_its_tokens_and_stops_new_ones(account, as_admin):
    token = service_token(account, as_admin).token

    assert services.archive_service_account(account, actor=as_admin) == 1

    account.refresh_from_db()
    assert account.is_archived and not live(token)
    assert AuditEvent.objects.filter(action=Action.SERVICE_ACCOUNT_ARCHIVED).count() == 1
    with pytest.raises(InvalidInput) as caught:
        service_token(account, as_admin, name="another")
    assert caught.value.code == "service_account_archived"


# --- people leaving ---------------------------------------------------------------------------


def test_a_service_token_survives_the_removal_of_its_creator(
    account, org, org_admin, second_admin, as_admin
):
    service = service_token(account, as_admin).token
    personal = services.issue_token(
        owner=org_admin, organization=org, name="mine", scopes=["fleet:read"], actor=as_admin
    ).token

    revoked = member_services.remove_member(
        Membership.objects.get(user=org_admin, organization=org),
        actor=Actor.for_user(second_admin),
    )

    assert revoked == 1
    assert live(service) and not live(personal)


def test_when_the_contact_leaves_the_admins_are_told_and_a_new_one_is_needed(
    account, org, member, org_admin, second_admin, as_admin
):
    token = service_token(account, as_admin).token

    member_services.leave_organization(
        Membership.objects.get(user=member, organization=org), actor=Actor.for_user(member)
    )

    account.refresh_from_db()
    assert account.contact is None and account.needs_contact
    assert live(token)
    for admin in (org_admin, second_admin):
        [notice] = notices_to(admin, Notification.Kind.SERVICE_CONTACT_NEEDED)
        assert "SAP connector" in notice.body_text and member.email in notice.body_text
    assert notices_to(member, Notification.Kind.SERVICE_CONTACT_NEEDED) == []
    event = AuditEvent.objects.filter(action=Action.SERVICE_ACCOUNT_CONTACT_CHANGED).get()
    assert event.details["previous_contact"] == member.email


def test_without_a_contact_the_security_emails_go_to_every_admin(
    account, org, member, org_admin, second_admin, as_admin
):
    token = service_token(account, as_admin).token
    member_services.remove_member(
        Membership.objects.get(user=member, organization=org), actor=as_admin
    )

    services.revoke_token(token, actor=Actor.system("test"), reason="Leaked")

    for admin in (org_admin, second_admin):
        assert len(notices_to(admin, Notification.Kind.TOKEN_REVOKED)) == 1
    assert notices_to(member, Notification.Kind.TOKEN_REVOKED) == []


def test_naming_a_new_contact_ends_the_notice(account, org, member, owner, as_admin):
    member_services.remove_member(
        Membership.objects.get(user=member, organization=org), actor=as_admin
    )
    account.refresh_from_db()

    services.change_contact(account, contact=owner, actor=as_admin)

    account.refresh_from_db()
    assert account.contact == owner and not account.needs_contact


def test_the_personal_token_dashboard_leaves_out_service_tokens(account, org_admin, as_admin):
    service_token(account, as_admin)
    assert not PersonalAccessToken.objects.owned_by(org_admin).exists()
