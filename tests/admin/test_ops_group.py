"""The Ops group (data migration) holds exactly what ops need in admin."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from portal.demo import seed_demo

pytestmark = pytest.mark.django_db

EXPECTED = {
    "tokens.view_personalaccesstoken",
    "tokens.change_personalaccesstoken",  # "may revoke": every token field is read-only
    "tokens.view_auditevent",
    "tokens.view_tokenpolicy",
    "telemetry.view_usagerecord",
    "telemetry.view_anomaly",
    "telemetry.change_anomaly",  # acknowledge / resolve
    "notifications.view_notification",
    "notifications.change_notification",  # retry a failed email
    "portal.view_organization",
    "portal.view_membership",
    "members.view_invitation",
    "members.change_invitation",  # "may revoke": every invitation field is read-only
}


def test_the_ops_group_has_exactly_the_permissions_ops_need():
    group = Group.objects.get(name="Ops")
    granted = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    assert granted == EXPECTED


def test_ops_may_not_add_or_delete_anything_nor_touch_people(ops):
    assert not any(
        ops.has_perm(f"{app}.{verb}_{model}")
        for app, model in [
            ("tokens", "personalaccesstoken"),
            ("tokens", "auditevent"),
            ("telemetry", "usagerecord"),
            ("portal", "user"),
            ("portal", "organization"),
            ("auth", "group"),
        ]
        for verb in ("add", "delete")
    )
    assert not ops.has_perm("portal.change_user")
    assert not ops.has_perm("tokens.change_tokenpolicy")
    assert not ops.is_superuser


def test_the_demo_ops_login_is_staff_in_the_ops_group():
    seed_demo()
    ops = User.objects.get(email="ops@quaygate.example")
    assert ops.is_staff and not ops.is_superuser
    assert ops.groups.filter(name="Ops").exists()
    assert ops.has_perm("tokens.change_personalaccesstoken")
