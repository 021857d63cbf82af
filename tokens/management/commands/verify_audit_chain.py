"""Walk the audit chains and report the first broken link of each (exit 1 if any is broken)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from tokens.services import chain as chain_services


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chains (every organisation's and the platform's, or one "
        "organisation's with --org). Exits 1 naming the first broken event of a broken chain."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--org", metavar="SLUG", help="Only this organisation's chain")

    def handle(self, *args, **options) -> None:
        organization = None
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organisation with the slug {options['org']!r}")
        broken = 0
        checked = 0
        for report in chain_services.verify_chains(organization=organization):
            checked += 1
            if report.ok:
                self.stdout.write(
                    f"{report.key}: OK, {report.events} events, head {report.head_hash or '-'}"
                )
                continue
            broken += 1
            where = (
                f"event id {report.broken_event_id} (seq {report.broken_seq})"
                if report.broken_event_id is not None
                else "its head"
            )
            self.stderr.write(
                f"{report.key}: BROKEN at {where}: {report.problem}; "
                f"{report.events} events verified before it"
            )
        if not checked:
            self.stdout.write("No audit events yet: nothing to verify.")
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken", returncode=1)
