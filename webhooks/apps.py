from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks: the organisation's events (its audit log, expiry warnings, findings)
    sent to the HTTPS endpoints its admins register. Above members and tokens, whose audit
    writer tells it about every saved event through a listener registered here."""

    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from tokens.services.audit import on_audit_events
        from webhooks.events import events_from_audit

        on_audit_events(events_from_audit)
