"""Invite someone into an organisation from the command line (ops, onboarding a new port owner,
whose first admin nobody in the portal can invite). The link is stdout's last line."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Membership, Organization
from members import invitations
from members.exceptions import MemberError
from notifications.services import absolute_url
from tokens.actors import Actor


class Command(BaseCommand):
    help = (
        "Invite an email address into an organisation and email them the link; prints the "
        "absolute link alone on the last line of stdout."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", required=True, help="Organisation slug")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Membership.Role.values)

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organisation with the slug {options['org']!r}")
        try:
            issued = invitations.invite_member(
                organization,
                email=options["email"],
                role=options["role"],
                actor=Actor.cli("manage.py invite_member"),
            )
        except MemberError as error:
            raise CommandError(error.message) from None
        invitation = issued.invitation
        self.stdout.write(
            f"Invited {invitation.email} to {organization.name} as "
            f"{invitation.get_role_display().lower()} (invitation {invitation.pk}); an email "
            f"with the link is queued. The link works once, until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC:"
        )
        self.stdout.write(absolute_url(issued.path))
