"""invite_member on the command line: the absolute link is stdout's last line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.test import override_settings

from accounts.models import Membership
from members.invitations import accept_invitation
from members.models import Invitation
from notifications.models import Notification
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("invite_member", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@override_settings(SITE_URL="https://quaygate.example")
def test_the_last_line_is_the_absolute_link_and_it_works(org):
    out, _ = run("--org", org.slug, "--email", "First.Admin@Rotterdam.example", "--role", "admin")

    *summary, link = out.strip().splitlines()
    assert link.startswith("https://quaygate.example/invitations/")
    assert "first.admin@rotterdam.example" in summary[0] and "Port of Rotterdam" in summary[0]
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.invited_by) == ("admin", None)
    event = AuditEvent.objects.get(action=AuditEvent.Action.MEMBER_INVITED)
    assert event.actor_kind == "cli" and event.actor_label == "manage.py invite_member"
    assert link not in str(event.details)
    assert Notification.objects.filter(kind="member_invited").count() == 1

    secret = link.rstrip("/").rsplit("/", 1)[-1]
    membership = accept_invitation(
        secret,
        user=None,
        full_name="Fiona First",
        password="a-long-and-unusual-passphrase",
        ip=None,
        user_agent="",
    )
    assert membership.role == Membership.Role.ADMIN and membership.organization == org


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--org", "nowhere", "--email", "a@x.example", "--role", "member"], "No organisation"),
        (["--org", "port-of-rotterdam", "--email", "not-an-email", "--role", "member"], "valid"),
        (["--org", "port-of-rotterdam", "--email", "a@x.example", "--role", "owner"], "owner"),
        (["--org", "port-of-rotterdam", "--email", "x" * 10_000, "--role", "member"], "254"),
    ],
)
def test_bad_input_is_an_error_with_nothing_created(org, args, said):
    with pytest.raises(CommandError, match=said):
        run(*args)

    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.exists() and not Notification.objects.exists()


def test_an_existing_member_is_an_error(org, member):
    with pytest.raises(CommandError, match="already a member"):
        run("--org", org.slug, "--email", member.email, "--role", "member")
    assert not Invitation.objects.exists()


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the connection at the end
def test_from_the_shell_an_error_goes_to_stderr_with_a_non_zero_exit(org, capsys):
    command = load_command_class("members", "invite_member")
    argv = ["manage.py", "invite_member", "--org", "no-such-org", "--email", "a@x.example"]

    with pytest.raises(SystemExit) as exited:
        command.run_from_argv([*argv, "--role", "member"])

    assert exited.value.code != 0
    captured = capsys.readouterr()
    assert "No organisation with the slug 'no-such-org'" in captured.err
    assert captured.out == ""
    assert not Invitation.objects.exists()
