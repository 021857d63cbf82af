"""The organisation policy "members must use 2FA": who may turn it on, the 7 days of grace for
a member's tokens, then 401 `owner_without_2fa` until they enrol, learnt through the shared
token cache as a revocation is; the emails at once and a day before (a beat task)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Membership
from members import services as member_services
from notifications.models import Notification
from tests.conftest import make_user
from tokens import cache as token_cache
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import PermissionDenied
from tokens.models import AuditEvent
from twofactor import policy
from twofactor.policy import TwoFactorPolicyError

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.tokens.urls")]
PROBE = "/api/v1/probe"


def _issue(user, org) -> str:
    return services.issue_token(
        owner=user,
        organization=org,
        name=f"sync {org.slug}",
        scopes=["fleet:read"],
        actor=Actor.system("t"),
    ).secret


def _get(client, secret):
    return client.get(PROBE, HTTP_AUTHORIZATION=f"Bearer {secret}")


def _require(org, admin):
    return policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(admin))


def test_an_admin_without_2fa_cannot_require_it(org, org_admin):
    with pytest.raises(TwoFactorPolicyError) as refused:
        _require(org, org_admin)
    assert refused.value.code == "two_factor_required_first"
    org.refresh_from_db()
    assert org.two_factor_required_at is None


def test_a_member_cannot_require_it(org, owner, enrol):
    enrol(owner)
    with pytest.raises(TwoFactorPolicyError) as refused:
        _require(org, owner)
    assert refused.value.code == "permission_denied"


def test_turning_it_on_gives_members_without_2fa_seven_days_and_an_email_at_once(
    org, org_admin, owner, member, enrol
):
    enrol(org_admin)
    enrol(member)
    now = timezone.now()
    assert policy.set_two_factor_requirement(
        org, required=True, actor=Actor.for_user(org_admin), now=now
    )
    deadlines = dict(Membership.objects.values_list("user__email", "two_factor_deadline"))
    assert deadlines == {
        org_admin.email: None,
        member.email: None,
        owner.email: now + timedelta(days=7),
    }
    [notice] = Notification.objects.filter(kind=Notification.Kind.TWO_FACTOR_REQUIRED)
    assert notice.user == owner and "requires two-factor" in notice.subject
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.TWO_FACTOR_POLICY_CHANGED)
    assert event.details == {"require_two_factor": True} and event.actor_user == org_admin
    assert not _require(org, org_admin)  # already on: nothing changes, nothing is sent twice


def test_tokens_work_during_the_grace_and_get_401_owner_without_2fa_after(
    client, org, org_admin, owner, enrol
):
    enrol(org_admin)
    secret = _issue(owner, org)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _require(org, org_admin)
        traveller.shift(timedelta(days=6, hours=23))
        assert _get(client, secret).status_code == 200
        traveller.shift(timedelta(hours=1, seconds=1))
        response = _get(client, secret)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="quaygate", error="invalid_token"'
    failure = AuditEvent.objects.filter(action=AuditEvent.Action.AUTH_FAILED).get()
    assert failure.details == {"reason": "owner_without_2fa"}
    assert failure.organization == org


def test_enrolling_ends_the_suspension_at_once(client, org, org_admin, owner, enrol):
    enrol(org_admin)
    secret = _issue(owner, org)
    _require(org, org_admin)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        assert _get(client, secret).status_code == 401
        enrol(owner)
        assert _get(client, secret).status_code == 200
    assert Membership.objects.get(user=owner).two_factor_deadline is None


def test_the_cached_state_learns_the_policy_and_the_enrolment_like_a_revocation(
    client,
    org,
    org_admin,
    owner,
    enrol,
    redis_client,
    django_assert_num_queries,
    without_usage_log,
):
    enrol(org_admin)
    secret = _issue(owner, org)
    key = token_cache.STATE_PREFIX + services.hash_secret(secret)
    try:
        assert _get(client, secret).status_code == 200  # cached without a deadline
        _require(org, org_admin)  # tombstones the org's cached states on commit
        assert redis_client.get(key) == token_cache.TOMBSTONE
        redis_client.delete(key)  # the tombstone's minute, passed
        assert _get(client, secret).status_code == 200  # loads the state with its deadline
        state = token_cache.TokenState.from_json(redis_client.get(key))
        assert state.two_factor_deadline is not None
        with django_assert_num_queries(0):  # the deadline costs no query on the hot path
            assert _get(client, secret).status_code == 200
        with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
            # The audit line only: the chain head's lock and move, the insert, and the webhooks'
            # look-up of endpoints subscribed to it.
            with django_assert_num_queries(4):
                assert _get(client, secret).status_code == 401
            enrol(owner)
            assert redis_client.get(key) == token_cache.TOMBSTONE
            assert _get(client, secret).status_code == 200
    finally:
        redis_client.delete(key)


def test_suspended_calls_do_not_block_the_address(
    client, org, org_admin, owner, member, enrol, settings
):
    settings.QUAYGATE = {**settings.QUAYGATE, "API_AUTH_FAILURES_PER_IP": "3/m"}
    enrol(org_admin)
    enrol(member)
    suspended, fine = _issue(owner, org), _issue(member, org)
    _require(org, org_admin)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        for _ in range(5):
            assert _get(client, suspended).status_code == 401
        assert _get(client, fine).status_code == 200


def test_other_organisations_tokens_are_not_suspended(client, org, other_org, org_admin, enrol):
    enrol(org_admin)
    both = make_user("both@example.com", org)
    Membership.objects.create(user=both, organization=other_org)
    here, there = _issue(both, org), _issue(both, other_org)
    _require(org, org_admin)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        assert _get(client, here).status_code == 401
        assert _get(client, there).status_code == 200


def test_the_reminder_goes_once_a_day_before_the_deadline(org, org_admin, owner, enrol):
    enrol(org_admin)
    start = timezone.now()
    policy.set_two_factor_requirement(
        org, required=True, actor=Actor.for_user(org_admin), now=start
    )
    assert policy.send_grace_reminders(now=start + timedelta(days=5)) == 0
    assert policy.send_grace_reminders(now=start + timedelta(days=6, hours=1)) == 1
    assert policy.send_grace_reminders(now=start + timedelta(days=6, hours=2)) == 0
    reminder = Notification.objects.get(subject__startswith="Tomorrow")
    assert reminder.user == owner and org.name in reminder.subject


def test_the_beat_task_runs_the_reminders(org, org_admin, owner, enrol, settings):
    from twofactor.tasks import send_grace_reminders

    assert "twofactor.send_grace_reminders" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    enrol(org_admin)
    policy.set_two_factor_requirement(
        org,
        required=True,
        actor=Actor.for_user(org_admin),
        now=timezone.now() - timedelta(days=6, hours=12),
    )
    assert send_grace_reminders.apply().get() == 1


def test_turning_it_off_ends_every_grace(client, org, org_admin, owner, enrol):
    enrol(org_admin)
    secret = _issue(owner, org)
    _require(org, org_admin)
    policy.set_two_factor_requirement(org, required=False, actor=Actor.for_user(org_admin))
    assert not Membership.objects.filter(two_factor_deadline__isnull=False).exists()
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        assert _get(client, secret).status_code == 200


def test_a_new_member_of_a_requiring_organisation_gets_the_grace_too(org, org_admin, enrol):
    enrol(org_admin)
    _require(org, org_admin)
    newcomer = make_user("new@example.com")
    membership = member_services.add_member(
        org, user=newcomer, role="member", actor=Actor.for_user(org_admin)
    )
    membership.refresh_from_db()
    assert membership.two_factor_deadline is not None
    assert Notification.objects.filter(
        kind=Notification.Kind.TWO_FACTOR_REQUIRED, user=newcomer
    ).exists()


def test_a_member_without_2fa_cannot_create_a_token_in_a_requiring_organisation(
    org, org_admin, owner, enrol
):
    enrol(org_admin)
    _require(org, org_admin)
    with pytest.raises(PermissionDenied) as refused:
        _issue(owner, org)
    assert refused.value.code == "two_factor_required"
