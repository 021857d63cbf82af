"""Membership changes through members.services: each one audited with the person who made it,
a leaver's tokens revoked in that organisation only, and nothing written when refused."""

import pytest

from accounts.models import Membership
from members import services
from members.exceptions import MemberError
from tests.conftest import make_user
from tokens.actors import Actor
from tokens.models import AuditEvent, PersonalAccessToken
from tokens.services import issue_token

pytestmark = pytest.mark.django_db

ADMIN, MEMBER = Membership.Role.ADMIN, Membership.Role.MEMBER
MEMBERSHIP_ACTIONS = [
    AuditEvent.Action.MEMBERSHIP_CHANGED,
    AuditEvent.Action.MEMBER_ROLE_CHANGED,
    AuditEvent.Action.MEMBER_REMOVED,
    AuditEvent.Action.MEMBER_LEFT,
]


@pytest.fixture
def ops(ops_user) -> Actor:
    return Actor.for_ops(ops_user, ip="192.0.2.10", user_agent="ops-browser/1.0")


def membership_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__in=MEMBERSHIP_ACTIONS).order_by("id"))


def membership(user, organization) -> Membership:
    return Membership.objects.get(user=user, organization=organization)


def issue(person, organization, name="ci deploy") -> PersonalAccessToken:
    return issue_token(
        owner=person,
        organization=organization,
        name=name,
        scopes=["fleet:read"],
        actor=Actor.for_user(person),
    ).token


def active(token: PersonalAccessToken) -> bool:
    return PersonalAccessToken.objects.get(pk=token.pk).revoked_at is None


# --- adding -----------------------------------------------------------------------------------


def test_adding_a_member_returns_the_membership_and_writes_the_event(org, ops, ops_user):
    newcomer = make_user("new@rotterdam.example")

    made = services.add_member(org, user=newcomer, role=ADMIN, actor=ops)

    assert made == membership(newcomer, org) and made.role == ADMIN
    [event] = membership_events()
    assert event.details == {
        "user": "new@rotterdam.example",
        "user_id": newcomer.pk,
        "change": "added",
        "from": None,
        "to": "admin",
    }
    assert event.organization == org
    assert event.actor_kind == AuditEvent.ActorKind.OPS and event.actor_user == ops_user
    assert event.ip == "192.0.2.10"


def test_an_org_admin_may_add_a_member(org, org_admin):
    newcomer = make_user("new@rotterdam.example")
    services.add_member(org, user=newcomer, role=MEMBER, actor=Actor.for_user(org_admin))
    assert membership(newcomer, org).role == MEMBER
    assert membership_events()[0].actor_user == org_admin


def test_adding_someone_already_a_member_is_refused_and_writes_nothing(org, member, ops):
    with pytest.raises(MemberError) as refused:
        services.add_member(org, user=member, role=ADMIN, actor=ops)

    assert refused.value.code == "already_member"
    assert membership(member, org).role == MEMBER
    assert membership_events() == []


def test_adding_with_an_unknown_role_is_refused_and_writes_nothing(org, ops):
    newcomer = make_user("new@rotterdam.example")
    with pytest.raises(MemberError) as refused:
        services.add_member(org, user=newcomer, role="owner", actor=ops)

    assert refused.value.code == "invalid_role"
    assert not Membership.objects.filter(user=newcomer).exists()
    assert membership_events() == []


@pytest.mark.parametrize("who", ["member", "outsider", "token", "anonymous"])
def test_only_an_org_admin_or_ops_may_add_members(request, org, owner, who):
    if who == "token":
        actor = Actor.for_token(issue(owner, org))
    elif who == "anonymous":
        actor = Actor.anonymous()
    else:
        actor = Actor.for_user(request.getfixturevalue(who))
    newcomer = make_user("new@rotterdam.example")

    with pytest.raises(MemberError):
        services.add_member(org, user=newcomer, role=MEMBER, actor=actor)

    assert not Membership.objects.filter(user=newcomer).exists()
    assert membership_events() == []


# --- changing a role --------------------------------------------------------------------------


def test_changing_a_role_writes_from_and_to(org, member, ops):
    changed = services.change_role(membership(member, org), role=ADMIN, actor=ops)

    assert changed.role == ADMIN and membership(member, org).role == ADMIN
    [event] = membership_events()
    assert event.details == {
        "user": member.email,
        "user_id": member.pk,
        "change": "role",
        "from": "member",
        "to": "admin",
    }


def test_the_role_before_is_the_stored_one_not_an_edited_instance(org, member, ops):
    edited = membership(member, org)
    edited.role = ADMIN  # as an admin form leaves the instance before it is saved

    services.change_role(edited, role=ADMIN, actor=ops)

    assert membership_events()[0].details["from"] == "member"


def test_a_demotion_keeps_the_persons_tokens(org, org_admin, member, ops):
    services.change_role(membership(member, org), role=ADMIN, actor=ops)  # not the last admin
    token = issue(org_admin, org)
    services.change_role(membership(org_admin, org), role=MEMBER, actor=ops)
    assert active(token)


def test_setting_the_role_it_already_has_writes_nothing(org, member, ops):
    services.change_role(membership(member, org), role=MEMBER, actor=ops)
    assert membership_events() == []


def test_a_role_change_refused_writes_nothing(org, member, owner, ops):
    with pytest.raises(MemberError):
        services.change_role(membership(member, org), role="owner", actor=ops)
    with pytest.raises(MemberError):
        services.change_role(membership(member, org), role=ADMIN, actor=Actor.for_user(owner))

    assert membership(member, org).role == MEMBER
    assert membership_events() == []


# --- removing ---------------------------------------------------------------------------------


def test_removing_a_member_revokes_their_tokens_in_that_organisation_only(
    org, other_org, member, owner, ops
):
    Membership.objects.create(user=member, organization=other_org, role=MEMBER)
    here, there = issue(member, org, "here"), issue(member, other_org, "there")
    colleague = issue(owner, org, "colleague")

    revoked = services.remove_member(membership(member, org), actor=ops)

    assert revoked == 1
    assert not Membership.objects.filter(user=member, organization=org).exists()
    assert Membership.objects.filter(user=member, organization=other_org).exists()
    token = PersonalAccessToken.objects.get(pk=here.pk)
    assert token.revoked_at is not None
    assert token.revocation_reason == f"{member.email} is no longer a member of {org.name}"
    assert token.revoked_by_kind == "ops"
    assert active(there) and active(colleague)


def test_removing_writes_the_event_then_the_revocations(org, member, ops, ops_user):
    issue(member, org)

    services.remove_member(membership(member, org), actor=ops)

    events = AuditEvent.objects.filter(organization=org).order_by("id")
    removed, revoked = list(events)[-2:]
    assert removed.action == AuditEvent.Action.MEMBER_REMOVED
    assert removed.details == {
        "user": member.email,
        "user_id": member.pk,
        "change": "removed",
        "from": "member",
        "to": None,
    }
    assert removed.actor_user == ops_user
    assert revoked.action == AuditEvent.Action.TOKEN_REVOKED
    assert revoked.actor_user == ops_user


def test_removing_someone_without_tokens_revokes_none(org, member, ops):
    assert services.remove_member(membership(member, org), actor=ops) == 0
    assert [event.details["change"] for event in membership_events()] == ["removed"]


def test_a_removal_refused_keeps_the_member_and_their_tokens(org, member, owner):
    token = issue(member, org)

    with pytest.raises(MemberError):
        services.remove_member(membership(member, org), actor=Actor.for_user(owner))

    assert Membership.objects.filter(user=member, organization=org).exists()
    assert active(token)
    assert membership_events() == []


def test_a_member_removed_twice_is_refused_the_second_time(org, member, ops):
    row = membership(member, org)
    services.remove_member(row, actor=ops)

    with pytest.raises(MemberError) as refused:
        services.remove_member(row, actor=ops)

    assert refused.value.code == "membership_gone"
    assert len(membership_events()) == 1


# --- a membership handed to someone else --------------------------------------------------------


def test_replacing_the_member_is_one_leave_and_one_join_in_one_event(org, other_org, member, ops):
    Membership.objects.create(user=member, organization=other_org, role=MEMBER)
    here, there = issue(member, org, "here"), issue(member, other_org, "there")
    newcomer = make_user("new@rotterdam.example")

    replaced = services.replace_member(
        membership(member, org), user=newcomer, role=ADMIN, actor=ops
    )

    assert replaced.membership == membership(newcomer, org) and replaced.membership.role == ADMIN
    assert replaced.previous_user == member and replaced.tokens_revoked == 1
    assert not Membership.objects.filter(user=member, organization=org).exists()
    assert not active(here) and active(there)
    [event] = membership_events()
    assert event.details == {
        "user": newcomer.email,
        "user_id": newcomer.pk,
        "change": "replaced",
        "from": "member",
        "to": "admin",
        "previous_user_id": member.pk,
    }


def test_replacing_with_someone_already_a_member_is_refused_and_writes_nothing(
    org, member, owner, ops
):
    token = issue(member, org)

    with pytest.raises(MemberError) as refused:
        services.replace_member(membership(member, org), user=owner, role=MEMBER, actor=ops)

    assert refused.value.code == "already_member"
    assert membership(member, org).role == MEMBER and membership(owner, org).role == MEMBER
    assert active(token)
    assert membership_events() == []


# --- the last admin, leaving, the emails -------------------------------------------------------


def test_the_last_admin_can_be_neither_demoted_removed_nor_leave(org, org_admin, ops):
    own = Actor.for_user(org_admin)
    with pytest.raises(MemberError) as demoted:
        services.change_role(membership(org_admin, org), role=MEMBER, actor=own)
    with pytest.raises(MemberError) as removed:
        services.remove_member(membership(org_admin, org), actor=ops)
    with pytest.raises(MemberError) as left:
        services.leave_organization(membership(org_admin, org), actor=own)

    assert {demoted.value.code, removed.value.code, left.value.code} == {"last_admin"}
    assert "last admin" in left.value.message
    assert membership(org_admin, org).role == ADMIN
    assert membership_events() == []


def test_an_admin_may_go_once_there_is_another(org, org_admin, member, ops):
    services.change_role(membership(member, org), role=ADMIN, actor=ops)

    services.leave_organization(membership(org_admin, org), actor=Actor.for_user(org_admin))

    assert not Membership.objects.filter(user=org_admin, organization=org).exists()
    assert list(Membership.objects.admins().filter(organization=org)) == [membership(member, org)]


def test_a_member_leaves_and_their_tokens_there_are_revoked(org, other_org, member):
    Membership.objects.create(user=member, organization=other_org, role=MEMBER)
    here, there = issue(member, org), issue(member, other_org, "elsewhere")

    revoked = services.leave_organization(membership(member, org), actor=Actor.for_user(member))

    assert revoked == 1
    assert not active(PersonalAccessToken.objects.get(pk=here.pk))
    assert active(there)
    left = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_LEFT)
    assert left.actor_user == member
    assert left.details["user"] == member.email


def test_nobody_can_make_someone_else_leave(org, member, org_admin, ops):
    for actor in (Actor.for_user(org_admin), ops):
        with pytest.raises(MemberError) as refused:
            services.leave_organization(membership(member, org), actor=actor)
        assert refused.value.code == "permission_denied"
    assert Membership.objects.filter(user=member, organization=org).exists()


def test_a_removal_emails_the_person_and_every_admin(org, org_admin, member, ops):
    from notifications.models import Notification

    issue(member, org)

    services.remove_member(membership(member, org), actor=ops)

    notices = Notification.objects.filter(kind=Notification.Kind.MEMBER_REMOVED)
    assert sorted(n.to_email for n in notices) == sorted([member.email, org_admin.email])
    to_them = notices.get(to_email=member.email)
    assert "removed you from" in to_them.body_text
    assert "1 personal access token" in to_them.body_text


def test_leaving_tells_the_admins_it_was_their_own_choice(org, org_admin, member):
    from notifications.models import Notification

    services.leave_organization(membership(member, org), actor=Actor.for_user(member))

    to_admin = Notification.objects.get(
        kind=Notification.Kind.MEMBER_REMOVED, to_email=org_admin.email
    )
    assert f"{member.email} left" in to_admin.body_text


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(org, org_admin, member, ops):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    services.change_role(membership(member, org), role=ADMIN, actor=ops)
    pair = [(org_admin, member), (member, org_admin)]

    def demote(who_and_whom) -> str:
        who, whom = who_and_whom
        try:
            services.change_role(membership(whom, org), role=MEMBER, actor=Actor.for_user(who))
            return "demoted"
        except MemberError as error:
            return error.code
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(demote, pair))

    assert Membership.objects.admins().filter(organization=org).count() == 1
    assert outcomes in (["demoted", "last_admin"], ["demoted", "permission_denied"])
