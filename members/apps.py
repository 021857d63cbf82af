from django.apps import AppConfig


class MembersConfig(AppConfig):
    """What people do to an organisation's membership and their own account: joining, leaving,
    role changes, signing in, changing a password. Each writes the organisation's audit log and
    queues its notices, so this sits above tokens (which owns AuditEvent and revoke_token)."""

    name = "members"
    verbose_name = "Members"
