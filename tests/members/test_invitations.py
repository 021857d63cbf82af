"""Invitations: inviting, re-inviting, resending, revoking and joining by the emailed link."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.models import Membership, User
from members import invitations
from members.exceptions import InvitationError, MemberError
from members.invitations import (
    MAX_PENDING_PER_ORGANIZATION,
    accept_invitation,
    hash_invitation_secret,
    invitation_for_secret,
    invite_member,
    resend_invitation,
    revoke_invitation,
)
from members.models import Invitation
from notifications.models import Notification
from notifications.services import render_notification
from tests.conftest import PASSWORD, make_user
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase"
NEWCOMER = "new.person@rotterdam.example"


def as_admin(org_admin) -> Actor:
    return Actor.for_user(org_admin, ip="203.0.113.9", user_agent="browser")


def invite(org, org_admin, email=NEWCOMER, role=Membership.Role.MEMBER):
    return invite_member(org, email=email, role=role, actor=as_admin(org_admin))


def join(secret, *, user=None, full_name="Nia Newcomer", password=NEW_PASSWORD):
    return accept_invitation(
        secret,
        user=user,
        full_name=full_name,
        password=password,
        ip="198.51.100.7",
        user_agent="ua",
    )


def refused(code, call, *args, error=InvitationError, **kwargs):
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    assert caught.value.message
    return caught.value


# --- inviting ---------------------------------------------------------------------------------


@override_settings(SITE_URL="https://quaygate.example")
def test_inviting_writes_the_row_the_audit_event_and_the_email_and_stores_only_a_hash(
    org, org_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        issued = invite(org, org_admin, email="  New.Person@Rotterdam.EXAMPLE ")

    invitation = Invitation.objects.get()
    assert invitation == issued.invitation
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        NEWCOMER,
        "member",
        org_admin,
    )
    assert invitation.state == "pending" and invitation.is_pending
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert len(issued.secret) >= 43  # 256 bits of token_urlsafe
    assert invitation.secret_hash == hash_invitation_secret(issued.secret)
    assert issued.secret not in str(
        Invitation.objects.filter(pk=invitation.pk).values().get().values()
    )
    assert issued.path == f"/invitations/{issued.secret}/"
    assert issued.secret not in repr(issued)
    assert len(callbacks) == 1  # the email is sent once the transaction commits

    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_INVITED)
    assert event.organization == org and event.actor_user == org_admin
    assert event.details == {"email": NEWCOMER, "role": "member", "invitation_id": invitation.pk}

    [message] = mail.outbox
    assert message.to == [NEWCOMER]
    assert message.subject == "You are invited to join Port of Rotterdam on Quaygate"
    link = f"https://quaygate.example{issued.path}"
    for body in (message.body, message.alternatives[0].content):
        assert link in body
        assert "Ada Admin (admin@rotterdam.example)" in body
        assert "expires in 7 days" in body and "works once" in body
        assert "If you did not expect this invitation, ignore this email" in body


def test_the_secret_and_link_never_reach_the_audit_log(org, org_admin):
    issued = invite(org, org_admin)
    resent = resend_invitation(issued.invitation, actor=as_admin(org_admin))
    revoke_invitation(resent.invitation, actor=as_admin(org_admin))

    logged = str(list(AuditEvent.objects.values()))
    for secret in (issued.secret, resent.secret):
        assert secret not in logged
    assert issued.invitation.secret_hash not in logged and "/invitations/" not in logged


def test_the_queued_email_has_the_link_and_the_stored_invitation_has_no_secret(org, org_admin):
    issued = invite(org, org_admin)

    email = Notification.objects.get(kind=Notification.Kind.MEMBER_INVITED)
    assert issued.path in email.body_text and issued.path in email.body_html
    assert issued.secret not in email.dedup_key
    stored = Invitation.objects.filter(pk=issued.invitation.pk).values().get()
    assert all(issued.secret not in str(value) for value in stored.values())


def test_an_existing_account_gets_the_invitation_as_its_own(org, org_admin, outsider):
    invite(org, org_admin, email=outsider.email)

    email = Notification.objects.get(kind=Notification.Kind.MEMBER_INVITED)
    assert (email.user, email.to_email) == (outsider, outsider.email)
    assert "Hello Otto," in email.body_text


def test_inviting_again_revokes_the_old_link_and_makes_a_new_one(org, org_admin):
    first = invite(org, org_admin)
    second = invite(org, org_admin, role=Membership.Role.ADMIN)

    first.invitation.refresh_from_db()
    assert first.invitation.state == "revoked"
    assert second.invitation.is_pending and second.invitation.role == "admin"
    assert second.secret != first.secret
    refused("revoked", join, first.secret)
    assert Notification.objects.filter(kind="member_invited").count() == 2
    latest = AuditEvent.objects.filter(action="member.invited").first()
    assert latest.details["replaces"] == [first.invitation.pk]


def test_an_expired_invitation_can_be_sent_again_to_the_same_address(org, org_admin):
    old = invite(org, org_admin)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        new = invite(org, org_admin)
        assert new.invitation.is_pending
    assert Invitation.objects.open().get() == new.invitation
    old.invitation.refresh_from_db()
    assert old.invitation.state == "revoked"


def test_ops_and_the_command_line_may_invite_but_members_and_outsiders_may_not(
    org, member, outsider, ops_user
):
    for actor in (Actor.for_ops(ops_user), Actor.cli("tests")):
        invite_member(org, email=f"{actor.kind}@x.example", role="member", actor=actor)
    for person in (member, outsider):
        refused(
            "permission_denied",
            invite_member,
            org,
            email="someone@x.example",
            role="member",
            actor=Actor.for_user(person),
            error=MemberError,
        )
    assert Invitation.objects.count() == 2
    assert Invitation.objects.get(email="cli@x.example").invited_by is None


def test_someone_already_in_the_organisation_is_not_invited(org, org_admin, member):
    error = refused(
        "already_member", invite, org, org_admin, email=member.email.upper(), error=MemberError
    )
    assert error.field == "email"
    assert not Invitation.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize(
    "email",
    [
        "",
        "not an address",
        "<script>alert(1)</script>@x.example",
        "a@b",
        "x" * 10_000 + "@rotterdam.example",
        "a" * 64 + "@" + "b" * 190 + ".example",  # 263 characters: over 254
    ],
)
def test_a_bad_address_is_refused_with_nothing_written(org, org_admin, email):
    error = refused("invalid_email", invite, org, org_admin, email=email, error=MemberError)

    assert error.field == "email" and len(error.message) < 200
    assert not Invitation.objects.exists() and not AuditEvent.objects.exists()


def test_a_role_that_is_not_one_is_refused(org, org_admin):
    refused("invalid_role", invite, org, org_admin, role="owner", error=MemberError)
    assert not Invitation.objects.exists()


def test_an_organisation_has_at_most_50_pending_invitations(org, org_admin):
    for n in range(MAX_PENDING_PER_ORGANIZATION):
        invite(org, org_admin, email=f"person{n}@x.example")

    refused(
        "too_many_pending", invite, org, org_admin, email="one-more@x.example", error=MemberError
    )
    # Re-inviting one of the 50 replaces it, so it is not one more.
    invite(org, org_admin, email="person7@x.example")
    assert Invitation.objects.pending().count() == MAX_PENDING_PER_ORGANIZATION


# --- resending and revoking -------------------------------------------------------------------


def test_resending_makes_a_new_link_for_seven_more_days_and_kills_the_old_one(org, org_admin):
    issued = invite(org, org_admin)
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        resent = resend_invitation(issued.invitation, actor=as_admin(org_admin))
        assert resent.invitation.pk == issued.invitation.pk
        assert resent.invitation.expires_at == pytest.approx(
            timezone.now() + timedelta(days=7), abs=timedelta(seconds=5)
        )
        refused("unknown", join, issued.secret)
        assert invitation_for_secret(issued.secret) is None

    assert Notification.objects.filter(kind="member_invited").count() == 2
    event = AuditEvent.objects.filter(action="member.invited").first()
    assert event.details["resent"] is True
    assert join(resent.secret).organization == org


def test_revoking_kills_the_link_and_is_audited(org, org_admin):
    issued = invite(org, org_admin)

    revoked = revoke_invitation(issued.invitation, actor=as_admin(org_admin))

    assert revoked.state == "revoked"
    event = AuditEvent.objects.get(action=AuditEvent.Action.INVITATION_REVOKED)
    assert event.details["email"] == NEWCOMER and event.actor_user == org_admin
    refused("revoked", join, issued.secret)
    assert not User.objects.filter(email=NEWCOMER).exists()


def test_only_a_pending_invitation_can_be_revoked_or_resent(org, org_admin):
    issued = invite(org, org_admin)
    revoke_invitation(issued.invitation, actor=as_admin(org_admin))

    refused(
        "not_pending",
        revoke_invitation,
        issued.invitation,
        actor=as_admin(org_admin),
        error=MemberError,
    )
    refused(
        "not_pending",
        resend_invitation,
        issued.invitation,
        actor=as_admin(org_admin),
        error=MemberError,
    )


def test_a_member_cannot_revoke_an_invitation(org, org_admin, member):
    issued = invite(org, org_admin)
    refused(
        "permission_denied",
        revoke_invitation,
        issued.invitation,
        actor=Actor.for_user(member),
        error=MemberError,
    )
    assert Invitation.objects.get().is_pending


# --- accepting --------------------------------------------------------------------------------


def test_a_new_person_gets_an_account_and_a_membership_and_nothing_else(
    org, org_admin, django_capture_on_commit_callbacks
):
    issued = invite(org, org_admin)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        membership = join(issued.secret, full_name="  Nia Newcomer  ")

    user = membership.user
    assert (user.email, user.full_name) == (NEWCOMER, "Nia Newcomer")
    assert user.password.startswith("argon2") and user.check_password(NEW_PASSWORD)
    assert not user.is_staff and not user.is_superuser
    assert list(user.memberships.values_list("organization", "role")) == [(org.pk, "member")]
    assert not PersonalAccessToken.objects.filter(owner=user).exists()
    invitation = Invitation.objects.get()
    assert invitation.state == "accepted" and invitation.accepted_by == user
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_JOINED)
    assert (event.actor_user, event.organization, event.ip) == (user, org, "198.51.100.7")
    assert event.details["role"] == "member"
    [message] = mail.outbox  # one admin in the organisation
    assert message.to == [org_admin.email]
    assert message.subject == f"{NEWCOMER} joined Port of Rotterdam on Quaygate"
    assert "Nia Newcomer" in message.body


def test_every_admin_hears_of_a_new_member_once(org, org_admin):
    second_admin = make_user("second@rotterdam.example", org, Membership.Role.ADMIN)
    issued = invite(org, org_admin, role=Membership.Role.ADMIN)

    join(issued.secret)

    told = Notification.objects.filter(kind=Notification.Kind.MEMBER_JOINED)
    assert sorted(told.values_list("to_email", flat=True)) == sorted(
        [org_admin.email, second_admin.email]
    )
    assert Membership.objects.get(user__email=NEWCOMER).role == "admin"


def test_html_in_a_new_members_name_is_text_in_the_admins_email(org, org_admin):
    issued = invite(org, org_admin)

    join(issued.secret, full_name='<img src=x onerror="alert(1)">')

    email = Notification.objects.get(kind=Notification.Kind.MEMBER_JOINED)
    assert "<img" not in email.body_html and "&lt;img" in email.body_html
    assert User.objects.get(email=NEWCOMER).full_name == '<img src=x onerror="alert(1)">'


@pytest.mark.parametrize("name", ["", "   ", "x" * 151, "two\nlines"])
def test_a_new_person_needs_a_name(org, org_admin, name):
    issued = invite(org, org_admin)

    error = refused("invalid_name", join, issued.secret, full_name=name)

    assert error.field == "full_name"
    assert not User.objects.filter(email=NEWCOMER).exists()
    assert Invitation.objects.get().is_pending


@pytest.mark.parametrize("password", ["", "short", "123456789012345", "new.person@rotterdam"])
def test_a_weak_password_is_refused_with_the_validators_words(org, org_admin, password):
    issued = invite(org, org_admin)

    error = refused("invalid_password", join, issued.secret, password=password)

    assert error.messages and error.message in error.messages
    assert not User.objects.filter(email=NEWCOMER).exists()
    assert Invitation.objects.get().is_pending


def test_a_signed_in_person_with_the_invited_address_joins_with_their_account(
    org, org_admin, outsider, other_org
):
    issued = invite(org, org_admin, email=outsider.email)

    membership = join(issued.secret, user=outsider, full_name="", password="")

    assert membership.user == outsider and membership.organization == org
    assert set(outsider.memberships.values_list("organization", flat=True)) == {
        org.pk,
        other_org.pk,
    }
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)


def test_accepting_twice_is_harmless(org, org_admin, outsider):
    issued = invite(org, org_admin, email=outsider.email)
    first = join(issued.secret, user=outsider)

    again = join(issued.secret, user=outsider)

    assert again == first
    assert Membership.objects.filter(user=outsider, organization=org).count() == 1
    assert AuditEvent.objects.filter(action="member.joined").count() == 1


def test_a_used_link_does_not_work_for_anyone_else(org, org_admin, member):
    issued = invite(org, org_admin)
    join(issued.secret)

    refused("used", join, issued.secret)
    refused("used", join, issued.secret, user=member)
    assert User.objects.filter(email=NEWCOMER).count() == 1


def test_the_link_is_for_the_invited_address_only(org, org_admin, outsider):
    issued = invite(org, org_admin)

    refused("email_mismatch", join, issued.secret, user=outsider)

    assert not Membership.objects.filter(user=outsider, organization=org).exists()
    assert Invitation.objects.get().is_pending


def test_an_address_with_an_account_must_sign_in_first(org, org_admin, outsider):
    issued = invite(org, org_admin, email=outsider.email)

    refused("sign_in_first", join, issued.secret)

    assert not Membership.objects.filter(user=outsider, organization=org).exists()
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)  # nobody chose a new password for them


def test_an_expired_link_is_refused_and_makes_nothing(org, org_admin):
    issued = invite(org, org_admin)

    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        refused("expired", join, issued.secret)
        assert Invitation.objects.get().state == "expired"
        assert not Invitation.objects.pending().exists()

    assert not User.objects.filter(email=NEWCOMER).exists()
    assert not AuditEvent.objects.filter(action="member.joined").exists()


@pytest.mark.parametrize(
    "secret", ["", "nonsense", "x" * 43, "x" * 10_000, "../../etc/passwd", "qgp_" + "a" * 40]
)
def test_an_unknown_or_garbage_link_is_refused_quietly(org, org_admin, secret):
    invite(org, org_admin)

    assert invitation_for_secret(secret) is None
    refused("unknown", join, secret)
    assert not User.objects.filter(email=NEWCOMER).exists()


def test_the_link_still_works_after_the_inviter_left(org, org_admin):
    issued = invite(org, org_admin)
    Membership.objects.filter(user=org_admin).delete()

    assert join(issued.secret).organization == org


def test_someone_added_meanwhile_keeps_their_membership_and_uses_up_the_link(
    org, org_admin, outsider
):
    issued = invite(org, org_admin, email=outsider.email, role=Membership.Role.ADMIN)
    added = Membership.objects.create(user=outsider, organization=org, role="member")

    assert join(issued.secret, user=outsider) == added
    assert Membership.objects.get(pk=added.pk).role == "member"
    assert Invitation.objects.get().state == "accepted"


# --- the removal notice (queued by members.services) -------------------------------------------

REMOVED = {
    "organization": "Port of Rotterdam",
    "member_email": "mia@rotterdam.example",
    "removed_by": "Ada Admin (admin@rotterdam.example)",
    "tokens_revoked": 2,
    "left_themselves": False,
}


def test_the_removal_notice_tells_the_removed_person_who_removed_them_and_what_was_revoked():
    removed = User(email="mia@rotterdam.example", full_name="Mia Member")

    rendered = render_notification("member_removed", REMOVED | {"user": removed})

    assert rendered.subject == "You were removed from Port of Rotterdam on Quaygate"
    assert "Ada Admin (admin@rotterdam.example) removed you from Port of Rotterdam." in (
        rendered.body_text
    )
    assert "2 personal access tokens you held there were revoked" in rendered.body_text
    assert "&lt;" not in rendered.body_text and "Mia" in rendered.body_text


def test_the_removal_notice_tells_admins_who_left_and_counts_one_token_singular(org_admin):
    context = REMOVED | {"user": org_admin, "left_themselves": True, "tokens_revoked": 1}

    rendered = render_notification("member_removed", context)

    assert rendered.subject == "mia@rotterdam.example left Port of Rotterdam on Quaygate"
    assert "1 personal access token they held there was revoked" in rendered.body_text
    assert "Removed by" not in rendered.body_text


def test_the_portal_path_is_what_reverse_gives():
    assert invitations.invitation_path("abc") == "/invitations/abc/"


def at_once(call, times: int = 2) -> list[object]:
    """Run `call` in `times` threads released together; what each returned or its error code."""
    barrier = threading.Barrier(times)
    outcomes: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(call())
        except InvitationError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_make_one_membership(org, org_admin, outsider):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    issued = invite(org, org_admin, email=outsider.email)

    outcomes = at_once(lambda: join(issued.secret, user=outsider))

    assert len(outcomes) == 2 and all(isinstance(o, Membership) for o in outcomes)
    assert Membership.objects.filter(user=outsider, organization=org).count() == 1
    assert AuditEvent.objects.filter(action="member.joined").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_new_people_at_once_with_one_link_make_one_account(org, org_admin):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    issued = invite(org, org_admin)

    outcomes = at_once(lambda: join(issued.secret))

    assert sorted(type(o).__name__ for o in outcomes) == ["Membership", "str"]
    assert "used" in outcomes
    assert User.objects.filter(email=NEWCOMER).count() == 1
    assert Membership.objects.filter(organization=org, user__email=NEWCOMER).count() == 1
