"""Filters for the notification templates: values callers pass as JSON-ish data, made readable."""

from datetime import UTC, date, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def moment(value: Any) -> str:
    """A datetime (or ISO 8601 string) as "24 Nov 2026, 14:15 UTC"; a date as "24 Nov 2026"."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        value = value.astimezone(UTC)
        return f"{value.day} {value:%b %Y, %H:%M} UTC"
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return "" if value is None else str(value)


@register.filter
def plain(value: Any) -> str:
    """Lists as "a, b"; dicts as "key: value; …"; None as nothing. For evidence summaries."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(plain(item) for item in value)
    return str(value)


@register.filter
def label(key: Any) -> str:
    """ "requests_per_hour" -> "Requests per hour"."""
    return str(key).replace("_", " ").capitalize()


@register.filter
def evidence_items(value: Any) -> list[tuple[str, str]]:
    """An evidence dict as (label, readable value) pairs; a plain string as one line."""
    if isinstance(value, dict):
        return [(label(k), plain(v)) for k, v in value.items()]
    if value in (None, "", [], {}):
        return []
    return [("", plain(value))]


@register.filter
def fact_label(name: str) -> str:
    """ "Severity" -> "Severity:      ": the label column of the plain-text facts, 15 wide."""
    return f"{name}:".ljust(14) + " "
