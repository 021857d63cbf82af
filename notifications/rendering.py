"""Render an outbox email from its three templates (subject, text, HTML), with every string
that looks like one of our secrets redacted (core.redaction)."""

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from core.redaction import REDACTED, contains_secret, redact_secrets
from notifications.models import Notification

logger = logging.getLogger(__name__)

# Reminders the user may turn off. Everything else is a security notice and always goes.
REMINDER_KINDS = frozenset({Notification.Kind.TOKEN_EXPIRING, Notification.Kind.TOKEN_EXPIRED})

# Other names callers use for the same facts.
_ALIASES = {"organization_name": "organization", "token_prefix": "display_prefix"}

__all__ = ["REDACTED", "REMINDER_KINDS", "RenderedEmail", "absolute_url", "render_notification"]


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


def _conf(name: str) -> int:
    # Read at call time, not import time, so tests (and the worker's env) can change them.
    return settings.QUAYGATE[name]


def absolute_url(path: str) -> str:
    """A link for an email: portal paths become absolute with SITE_URL; full URLs pass."""
    if path.startswith("/"):
        return settings.SITE_URL + path
    return path


def render_notification(kind: str, context: dict[str, Any]) -> RenderedEmail:
    """Render `<kind>_subject.txt`, `<kind>_body.txt` and `<kind>_body.html`.

    Context values named `*_url` that are portal paths ("/tokens/42/") become absolute links.
    """
    kind = Notification.Kind(kind)
    full = {
        key: absolute_url(value) if key.endswith("_url") and isinstance(value, str) else value
        for key, value in context.items()
    }
    for alias, name in _ALIASES.items():
        if alias in full and name not in full:
            full[name] = full[alias]
    full.setdefault("site_url", settings.SITE_URL)
    full.setdefault("kind", kind)
    full.setdefault("is_reminder", kind in REMINDER_KINDS)
    base = f"notifications/{kind.value}"
    subject = render_to_string(f"{base}_subject.txt", full)
    # A subject is one line: a header with a newline in it is refused by the mail library.
    subject = " ".join(subject.split())
    rendered = RenderedEmail(
        subject=subject[:300],
        body_text=_tidy_text(render_to_string(f"{base}_body.txt", full)),
        body_html=render_to_string(f"{base}_body.html", full).strip(),
    )
    if any(contains_secret(part) for part in dataclasses.astuple(rendered)):
        # Redact rather than refuse: refusing would make the caller's action (creating or
        # revoking a token) fail because of what someone typed into a name or a reason.
        logger.warning("redacted a token-like string from a %s notification", kind.value)
        rendered = RenderedEmail(*(redact_secrets(part) for part in dataclasses.astuple(rendered)))
    return rendered


def _tidy_text(text: str) -> str:
    """Template tags leave blank runs behind; a plain-text mail should have at most one."""
    # "-- " (with its space) is the signature separator mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if not line and tidy and not tidy[-1]:
            continue
        tidy.append(line)
    return "\n".join(tidy) + "\n"
