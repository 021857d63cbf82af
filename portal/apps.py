import os
import sys

from django.apps import AppConfig
from django.conf import settings


class PortalConfig(AppConfig):
    """The portal edge: views, forms, templatetags, the ops console's admin, seed_demo.

    Its label is "portal_site" because "portal" belongs to accounts (see accounts/apps.py)."""

    name = "portal"
    label = "portal_site"
    verbose_name = "Portal"

    def ready(self) -> None:
        announce_embedded_default()


def announce_embedded_default() -> None:
    """Say so when a server or worker starts on the embedded default (not meant for production)."""
    starting = any(word in sys.argv for word in ("runserver", "worker", "beat"))
    if settings.PRODUCTION or not starting or os.environ.get("QUAYGATE_ANNOUNCED"):
        return
    os.environ["QUAYGATE_ANNOUNCED"] = "1"  # once per process tree (autoreloader, pool children)
    sys.stderr.write(embedded_summary() + "\n")


def embedded_summary() -> str:
    """What the embedded default runs on, in one sentence (scripts/run-embedded prints it too)."""
    parts = [
        "PostgreSQL" if settings.DATABASE_URL else "SQLite (var/quaygate.sqlite3)",
        "Redis" if settings.REDIS_URL else "no Redis (local-memory cache, filesystem broker)",
        "SMTP"
        if settings.MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend")
        else "emails written to var/mail",
    ]
    return (
        "Quaygate: embedded default (QUAYGATE_ENV=embedded) on "
        + ", ".join(parts)
        + ". For one laptop only; set QUAYGATE_ENV=production to deploy."
    )
