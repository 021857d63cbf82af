"""The Ops group for transactional tests.

The group is made by a data migration; a transactional test (live_server, a real worker)
starts from a flushed database, which keeps the permissions (Django recreates them) but not the
group. These tests give it back with the permissions they rely on."""

from django.contrib.auth.models import Group, Permission


def ops_group(*codenames: str) -> Group:
    group, _ = Group.objects.get_or_create(name="Ops")
    permissions = Permission.objects.filter(codename__in=codenames)
    assert permissions.count() == len(codenames), "an unknown permission codename"
    group.permissions.add(*permissions)
    return group
