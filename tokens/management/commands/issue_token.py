"""Issue a token from the command line (ops, automation). The secret is stdout's last line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Membership, Organization, User
from fleet.models import Terminal
from tokens import services
from tokens.actors import Actor
from tokens.exceptions import TokenError


class Command(BaseCommand):
    help = "Issue a personal access token; prints the token alone on the last line of stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="Owner's email")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", required=True, dest="scopes")
        parser.add_argument(
            "--organization", help="Organisation slug (needed when the user is in several)"
        )
        parser.add_argument("--terminal", action="append", default=[], dest="terminals")
        parser.add_argument("--expires-in-days", type=int, dest="days")
        parser.add_argument(
            "--no-expiry", action="store_true", help="Only when the organisation's policy allows it"
        )
        parser.add_argument("--allow-ip", action="append", default=[], dest="allowed_ips")
        parser.add_argument("--rate-limit", type=int, dest="rate_limit")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--sandbox", action="store_true", help="A sandbox token (qgs_) instead of production"
        )

    def handle(self, *args, **options) -> None:
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"No user with the email {options['user']}")
        organization = self._organization(user, options["organization"])
        terminals = self._terminals(organization, options["terminals"])
        if options["no_expiry"] and options["days"] is not None:
            raise CommandError("Give --expires-in-days or --no-expiry, not both")
        expires_at = services.DEFAULT_EXPIRY
        if options["no_expiry"]:
            expires_at = None
        elif options["days"] is not None:
            if options["days"] < 1:
                raise CommandError("--expires-in-days must be 1 or more")
            expires_at = timezone.now() + timedelta(days=options["days"])
        try:
            issued = services.issue_token(
                owner=user,
                organization=organization,
                name=options["name"],
                scopes=options["scopes"],
                description=options["description"],
                expires_at=expires_at,
                terminal_access="selected" if terminals else "all",
                terminals=terminals,
                allowed_ips=options["allowed_ips"],
                rate_limit_per_hour=options["rate_limit"],
                actor=Actor.cli("manage.py issue_token"),
                kind="sandbox" if options["sandbox"] else "production",
            )
        except TokenError as error:
            raise CommandError(error.message) from None
        token = issued.token
        expiry = (
            f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC"
            if token.expires_at
            else "never expires"
        )
        self.stderr.write(
            f"Issued token {token.id} “{token.name}” ({token.display_prefix}…) for {user.email} "
            f"in {organization.name}; {expiry}. Store it now: it is not shown again."
        )
        if not organization.api_allows(token.kind):
            self.stderr.write(
                f"Note: {organization.name} has API access “{organization.get_api_access_display()}”"
                f": this {token.kind} token gets 403 api_access_not_enabled until it is covered."
            )
        self.stdout.write(issued.secret)

    def _organization(self, user: User, slug: str | None) -> Organization:
        memberships = Membership.objects.filter(user=user).select_related("organization")
        if slug:
            memberships = memberships.filter(organization__slug=slug)
        found = [m.organization for m in memberships]
        if not found:
            raise CommandError(f"{user.email} is not a member of {slug or 'any organisation'}")
        if len(found) > 1:
            raise CommandError(f"{user.email} is in several organisations: give --organization")
        return found[0]

    def _terminals(self, organization: Organization, codes: list[str]) -> list[Terminal]:
        terminals = list(Terminal.objects.for_org(organization).filter(code__in=codes))
        missing = sorted(set(codes) - {t.code for t in terminals})
        if missing:
            raise CommandError(f"No terminal {', '.join(missing)} in {organization.name}")
        return terminals
