"""The second factors themselves: an app confirmed by one code, no replay, recovery codes
hashed and single use, removing, the ops reset. Each change is audited and emailed."""

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership
from notifications.models import Notification
from tests.conftest import make_org
from tokens.actors import Actor
from tokens.models import AuditEvent
from twofactor import policy
from twofactor import services as two_factor
from twofactor.models import RecoveryCode, RecoveryCodeDevice
from twofactor.services import TwoFactorError

pytestmark = pytest.mark.django_db


def _app(device: TOTPDevice) -> pyotp.TOTP:
    import base64

    return pyotp.TOTP(base64.b32encode(device.bin_key).decode())


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_an_app_is_not_active_until_it_produced_a_right_code(owner):
    device = two_factor.start_totp_enrolment(owner)
    wrong = str((int(_app(device).now()) + 1) % 1_000_000).zfill(6)
    with pytest.raises(TwoFactorError) as refused:
        two_factor.confirm_totp(device, code=wrong, actor=Actor.for_user(owner))
    assert refused.value.code == "invalid_code"
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    assert not TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
    assert (
        two_factor.verify_code(owner, code=_app(device).now(), actor=Actor.for_user(owner)) is None
    )


def test_confirming_the_app_turns_2fa_on_with_an_audit_event_and_an_email(owner, org):
    device = two_factor.start_totp_enrolment(owner)
    two_factor.confirm_totp(device, code=_app(device).now(), actor=Actor.for_user(owner))
    owner.refresh_from_db()
    assert owner.two_factor_enabled
    [event] = _events(AuditEvent.Action.TWO_FACTOR_ENABLED)
    assert event.organization == org and event.details == {"factor": "totp"}
    notice = Notification.objects.get(kind=Notification.Kind.TWO_FACTOR_CHANGED, user=owner)
    assert "turned on" in notice.subject
    assert device.key not in notice.body_text and device.key not in str(event.details)


def test_a_code_cannot_be_replayed_within_its_window(owner, enrol, next_code):
    app = enrol(owner)
    code = next_code(app)
    assert two_factor.verify_code(owner, code=code, actor=Actor.for_user(owner)) is not None
    assert two_factor.verify_code(owner, code=code, actor=Actor.for_user(owner)) is None


def test_an_older_code_than_the_last_used_one_is_refused(owner, enrol, next_code):
    app = enrol(owner)  # confirmed with the current step's code
    assert two_factor.verify_code(owner, code=app.now(), actor=Actor.for_user(owner)) is None


def test_recovery_codes_are_ten_stored_hashed_and_each_works_once(owner, org, enrol):
    enrol(owner)
    codes = two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(
        code.replace("-", "") in digest or code in digest for code in codes for digest in stored
    )
    actor = Actor.for_user(owner, ip="203.0.113.9")
    assert two_factor.verify_code(owner, code=codes[3].upper(), actor=actor) is not None
    assert two_factor.verify_code(owner, code=codes[3], actor=actor) is None
    [event] = _events(AuditEvent.Action.RECOVERY_CODE_USED)
    assert event.details == {"codes_left": 9} and event.organization == org
    notice = Notification.objects.get(
        kind=Notification.Kind.TWO_FACTOR_CHANGED, subject__icontains="recovery code"
    )
    assert "9 recovery codes left" in notice.body_text
    assert codes[3] not in notice.body_text


def test_new_recovery_codes_kill_the_old_set(owner, enrol):
    enrol(owner)
    old = two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    new = two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    assert two_factor.verify_code(owner, code=old[0], actor=Actor.for_user(owner)) is None
    assert two_factor.verify_code(owner, code=new[0], actor=Actor.for_user(owner)) is not None
    assert RecoveryCodeDevice.objects.get(user=owner).codes.count() == 10


def test_recovery_codes_need_a_second_factor_first(owner):
    with pytest.raises(TwoFactorError):
        two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))


def test_removing_the_last_factor_turns_2fa_off_and_drops_the_recovery_codes(owner, org, enrol):
    enrol(owner)
    codes = two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    device = TOTPDevice.objects.get(user=owner)
    two_factor.remove_factor(owner, kind="totp", device_id=device.pk, actor=Actor.for_user(owner))
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    assert not RecoveryCode.objects.exists()
    assert two_factor.verify_code(owner, code=codes[0], actor=Actor.for_user(owner)) is None
    assert [e.details for e in _events(AuditEvent.Action.TWO_FACTOR_DISABLED)] == [
        {"removed": "totp"}
    ]


def test_the_last_factor_stays_while_an_organisation_requires_2fa(owner, org, org_admin, enrol):
    enrol(org_admin)
    enrol(owner)
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    device = TOTPDevice.objects.get(user=owner)
    with pytest.raises(TwoFactorError) as refused:
        two_factor.remove_factor(
            owner, kind="totp", device_id=device.pk, actor=Actor.for_user(owner)
        )
    assert refused.value.code == "required_by_organization"
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_an_ops_reset_needs_a_reason_removes_everything_and_tells_the_person(
    owner, org, enrol, ops_user
):
    enrol(owner)
    two_factor.generate_recovery_codes(owner, actor=Actor.for_user(owner))
    ops = Actor.for_ops(ops_user)
    with pytest.raises(TwoFactorError):
        two_factor.reset_two_factor(owner, actor=ops, reason="  ")
    assert two_factor.reset_two_factor(owner, actor=ops, reason="Lost phone, ticket 4711")
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not RecoveryCodeDevice.objects.filter(user=owner).exists()
    [event] = _events(AuditEvent.Action.TWO_FACTOR_DISABLED)
    assert event.actor_kind == "ops"
    assert event.details == {"reset_by_ops": True, "reason": "Lost phone, ticket 4711"}
    notice = Notification.objects.filter(kind=Notification.Kind.TWO_FACTOR_CHANGED).first()
    assert "ticket 4711" in notice.body_text and "Platform ops" in notice.body_text
    assert not two_factor.reset_two_factor(owner, actor=ops, reason="again")


def test_an_ops_reset_starts_a_new_grace_period_where_2fa_is_required(
    owner, org, org_admin, enrol, ops_user
):
    enrol(org_admin)
    enrol(owner)
    policy.set_two_factor_requirement(org, required=True, actor=Actor.for_user(org_admin))
    assert Membership.objects.get(user=owner).two_factor_deadline is None
    two_factor.reset_two_factor(owner, actor=Actor.for_ops(ops_user), reason="lost phone")
    assert Membership.objects.get(user=owner).two_factor_deadline is not None
    assert Notification.objects.filter(
        kind=Notification.Kind.TWO_FACTOR_REQUIRED, user=owner
    ).exists()


def test_audit_events_are_written_in_each_organisation_of_the_person(owner, org, enrol):
    second = make_org("Port of Hamburg")
    Membership.objects.create(user=owner, organization=second)
    enrol(owner)
    orgs = {e.organization for e in _events(AuditEvent.Action.TWO_FACTOR_ENABLED)}
    assert orgs == {org, second}
