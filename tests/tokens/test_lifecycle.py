"""regenerate, revoke, update, expire, unused, leak reports: each audited, each notified."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Notification
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import InvalidInput, PermissionDenied, PolicyViolation, TokenNotActive
from tokens.models import AuditEvent, PersonalAccessToken, TokenSecret

A = AuditEvent.Action
K = Notification.Kind


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


# --- regenerate -------------------------------------------------------------------------------


def test_regeneration_keeps_settings_and_gives_a_new_secret(issue, owner, terminals):
    issued = issue(
        owner,
        scopes=["telemetry:read"],
        terminal_access="selected",
        terminals=[terminals["EMX"]],
        allowed_ips=["192.0.2.0/24"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    new = services.regenerate_token(issued.token, actor=Actor.for_user(owner))
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert new.secret != issued.secret and new.token.pk == token.pk
    assert token.scopes == ["telemetry:read"] and token.allowed_ips == ["192.0.2.0/24"]
    assert list(token.terminals.all()) == [terminals["EMX"]]
    assert token.display_prefix == new.secret[:8] and token.regenerated_at is not None
    # Same lifetime as before, counted from now.
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert actions()[-1] == A.TOKEN_REGENERATED
    assert Notification.objects.filter(kind=K.TOKEN_REGENERATED, user=owner).count() == 1


def test_the_old_secret_keeps_only_its_overlap(issued, owner):
    services.regenerate_token(issued.token, actor=Actor.for_user(owner), overlap_hours=3)
    old = TokenSecret.objects.get(secret_hash=services.hash_secret(issued.secret))
    assert old.retired_at is not None
    assert old.valid_until - old.retired_at == timedelta(hours=3)
    event = AuditEvent.objects.get(action=A.TOKEN_REGENERATED)
    assert event.details["overlap_hours"] == 3


@pytest.mark.parametrize("overlap", [-1, 25, 1.5, "2", True])
def test_an_overlap_is_zero_to_twenty_four_whole_hours(issued, owner, overlap):
    with pytest.raises(InvalidInput) as refused:
        services.regenerate_token(issued.token, actor=Actor.for_user(owner), overlap_hours=overlap)
    assert refused.value.field == "overlap_hours"


def test_a_second_regeneration_ends_the_first_overlap(issued, owner):
    services.regenerate_token(issued.token, actor=Actor.for_user(owner), overlap_hours=24)
    services.regenerate_token(issued.token, actor=Actor.for_user(owner), overlap_hours=24)
    now = timezone.now()
    first = TokenSecret.objects.get(secret_hash=services.hash_secret(issued.secret))
    assert not first.accepted_at(now + timedelta(seconds=1))


def test_self_rotation_is_recorded_as_the_token_acting(issued):
    services.regenerate_token(issued.token, actor=Actor.for_token(issued.token, ip="192.0.2.9"))
    event = AuditEvent.objects.get(action=A.TOKEN_ROTATED)
    assert event.actor_kind == "token" and event.actor_token_id == issued.token.id


def test_a_revoked_token_cannot_be_regenerated(issued, owner):
    services.revoke_token(issued.token, actor=Actor.for_user(owner))
    with pytest.raises(TokenNotActive):
        services.regenerate_token(issued.token, actor=Actor.for_user(owner))


def test_an_expired_token_can_be_regenerated(issue, owner):
    issued = issue(owner, expires_at=timezone.now() + timedelta(days=1))
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        new = services.regenerate_token(issued.token, actor=Actor.for_user(owner))
        assert new.token.is_active


def test_regeneration_rechecks_a_tightened_policy(issue, owner, org):
    issued = issue(owner, scopes=["maintenance:write"])
    services.update_token_policy(org, actor=Actor.cli(), member_scopes=["fleet:read"])
    with pytest.raises(PolicyViolation):
        services.regenerate_token(issued.token, actor=Actor.for_user(owner))


def test_another_member_cannot_regenerate_or_revoke_but_an_org_admin_can(
    issued, member, outsider, org_admin
):
    for person in (member, outsider):
        with pytest.raises(PermissionDenied):
            services.regenerate_token(issued.token, actor=Actor.for_user(person))
        with pytest.raises(PermissionDenied):
            services.revoke_token(issued.token, actor=Actor.for_user(person))
    services.regenerate_token(issued.token, actor=Actor.for_user(org_admin))
    services.revoke_token(issued.token, actor=Actor.for_user(org_admin), reason="left the firm")
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revoked_by_kind == "org_admin" and token.revoked_by == org_admin


def test_a_token_may_act_only_on_itself(issue, owner):
    first, second = issue(owner, name="a"), issue(owner, name="b")
    with pytest.raises(PermissionDenied):
        services.revoke_token(second.token, actor=Actor.for_token(first.token))


# --- revoke -----------------------------------------------------------------------------------


def test_revocation_is_audited_and_the_owner_told_when_someone_else_did_it(issued, owner):
    ops = Actor.for_ops(owner.__class__.objects.create_user("ops@q.example", is_staff=True))
    services.revoke_token(issued.token, actor=ops, reason="incident 42")
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.state == "revoked" and token.revocation_reason == "incident 42"
    assert token.revoked_by_kind == "ops"
    event = AuditEvent.objects.get(action=A.TOKEN_REVOKED)
    assert event.details == {"reason": "incident 42", "revoked_by": "ops"}
    notice = Notification.objects.get(kind=K.TOKEN_REVOKED)
    assert notice.user == owner and "incident 42" in notice.body_text


def test_the_owner_is_told_even_when_they_revoked_it_themselves(issued, owner):
    services.revoke_token(issued.token, actor=Actor.for_user(owner, ip="192.0.2.44"))
    notice = Notification.objects.get(kind=K.TOKEN_REVOKED)
    assert notice.user == owner
    assert "its owner" in notice.body_text and "192.0.2.44" in notice.body_text
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revocation_reason == "Revoked by its owner"


def test_revoking_twice_changes_nothing_the_second_time(issued, owner, org_admin):
    services.revoke_token(issued.token, actor=Actor.for_user(owner), reason="first")
    services.revoke_token(issued.token, actor=Actor.for_user(org_admin), reason="second")
    token = PersonalAccessToken.objects.get(pk=issued.token.pk)
    assert token.revocation_reason == "first"
    assert actions().count(A.TOKEN_REVOKED) == 1


def test_revocation_never_deletes(issued, owner):
    services.revoke_token(issued.token, actor=Actor.for_user(owner))
    assert PersonalAccessToken.objects.filter(pk=issued.token.pk).exists()
    assert TokenSecret.objects.filter(token=issued.token).exists()


# --- update -----------------------------------------------------------------------------------


def test_renaming_is_audited_with_before_and_after(issued, owner):
    services.update_token(issued.token, actor=Actor.for_user(owner), name="nightly export")
    event = AuditEvent.objects.get(action=A.TOKEN_UPDATED)
    assert event.details == {"name": {"from": "partner sync", "to": "nightly export"}}


def test_update_cannot_touch_power(issued, owner):
    with pytest.raises(TypeError):
        services.update_token(issued.token, actor=Actor.for_user(owner), scopes=["fleet:read"])


# --- expiry and unused ------------------------------------------------------------------------


def test_expired_tokens_are_recorded_once(issue, owner):
    soon = issue(owner, name="soon", expires_at=timezone.now() + timedelta(hours=1))
    issue(owner, name="later")
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert services.expire_due_tokens(batch_size=1) == 1
        assert services.expire_due_tokens() == 0
    event = AuditEvent.objects.get(action=A.TOKEN_EXPIRED)
    assert event.token_id == soon.token.id and event.actor_kind == "system"


def test_expire_due_tokens_works_in_batches(issue, owner):
    for n in range(5):
        issue(owner, name=f"t{n}", expires_at=timezone.now() + timedelta(hours=1))
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert services.expire_due_tokens(batch_size=2) == 5
    assert actions().count(A.TOKEN_EXPIRED) == 5


def test_the_policy_revokes_tokens_left_unused(issue, owner, org):
    used, unused = issue(owner, name="used"), issue(owner, name="unused")
    services.update_token_policy(org, actor=Actor.cli(), revoke_unused_after_days=30)
    later = timezone.now() + timedelta(days=31)
    PersonalAccessToken.objects.filter(pk=used.token.pk).update(
        last_used_at=later - timedelta(days=1)
    )
    with time_machine.travel(later):
        assert services.revoke_unused_tokens() == 1
    assert PersonalAccessToken.objects.get(pk=unused.token.pk).revoked_by_kind == "unused"
    assert PersonalAccessToken.objects.get(pk=used.token.pk).revoked_at is None


# --- leaks ------------------------------------------------------------------------------------


def test_a_leak_report_revokes_real_tokens_and_tells_their_owners(issue, owner, member):
    mine, theirs = issue(owner, name="mine"), issue(member, name="theirs")
    revoked = services.report_leaked_credentials(
        [mine.secret, theirs.secret, "qgp_nonsense", mine.secret], ip="198.51.100.1"
    )
    assert revoked == 2
    for issued in (mine, theirs):
        token = PersonalAccessToken.objects.get(pk=issued.token.pk)
        assert token.revoked_by_kind == "leak_report"
    assert Notification.objects.filter(kind=K.TOKEN_LEAKED).count() == 2
    assert actions().count(A.TOKEN_LEAK_REPORTED) == 2


def test_a_leaked_rotated_out_secret_leaves_the_token_alive(issued, owner):
    services.regenerate_token(issued.token, actor=Actor.for_user(owner))
    assert services.report_leaked_credentials([issued.secret], ip=None) == 0
    assert PersonalAccessToken.objects.get(pk=issued.token.pk).revoked_at is None
    assert AuditEvent.objects.get(action=A.TOKEN_LEAK_REPORTED).details == {"secret": "rotated out"}


def test_a_leak_report_of_nothing_real_writes_nothing(db):
    from tokens import format as token_format

    assert services.report_leaked_credentials([token_format.generate(), "junk"], ip=None) == 0
    assert not AuditEvent.objects.exists()


def test_a_departed_member_loses_every_token_in_that_organisation_only(issue, owner, other_org):
    from accounts.models import Membership

    Membership.objects.create(user=owner, organization=other_org)
    here = [issue(owner, name="a").token, issue(owner, name="b").token]
    elsewhere = issue(owner, name="c", organization=other_org).token

    revoked = services.revoke_member_tokens(
        user=owner, organization=here[0].organization, actor=Actor.cli()
    )

    assert revoked == 2
    assert all(PersonalAccessToken.objects.get(pk=t.pk).revoked_at for t in here)
    assert PersonalAccessToken.objects.get(pk=elsewhere.pk).revoked_at is None
