from django.core.management.base import BaseCommand

from portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo organisations, people, fleet and a week of telemetry (idempotent)."

    def handle(self, *args, **options) -> None:
        summary = seed_demo()
        self.stdout.write(
            f"Demo data ready ({summary.readings_created} new telemetry readings, "
            f"{summary.tokens_created} new tokens, {summary.usage_rows_created} new usage rows)."
        )
        self.stdout.write("Demo logins (email / password):")
        for email, password, role in summary.logins:
            self.stdout.write(f"  {email:<28} {password}   {role}")
