"""Template helpers: status badges (text, not colour alone), scope labels, the usage chart.

The chart is server-side SVG: no chart library, no CDN, no inline style (CSP forbids it), and
it reads without JavaScript. Geometry is computed here so the template only places shapes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from notifications.templatetags import notification_tags as facts
from portal.selectors import DayUsage
from tokens import scopes as scope_rules
from tokens.models import PersonalAccessToken

register = template.Library()

EXPIRES_SOON_DAYS = 7

_BADGES = {
    "active": ("Active", "badge-ok", "●"),
    "expiring": ("Expires soon", "badge-warn", "▲"),
    "expired": ("Expired", "badge-muted", "■"),
    "revoked": ("Revoked", "badge-bad", "✕"),
    "pending": ("Pending approval", "badge-warn", "◌"),
}


def token_status(token: PersonalAccessToken) -> str:
    state = token.state
    if state == PersonalAccessToken.State.ACTIVE and token.is_pending:
        return "pending"
    if state == PersonalAccessToken.State.ACTIVE and token.expires_soon(EXPIRES_SOON_DAYS):
        return "expiring"
    return str(state)


@register.simple_tag
def status_badge(token: PersonalAccessToken) -> str:
    label, css, mark = _BADGES[token_status(token)]
    return format_html(
        '<span class="badge {}"><span class="badge-mark" aria-hidden="true">{}</span> {}</span>',
        css,
        mark,
        label,
    )


_KIND_BADGES = {"production": "Production", "sandbox": "Sandbox"}


@register.simple_tag
def kind_badge(token: PersonalAccessToken) -> str:
    """Production or sandbox (issue 15), in words: the prefix alone is easy to miss."""
    kind = token.kind if token.kind in _KIND_BADGES else "production"
    return format_html(
        '<span class="kind-badge kind-{}" data-kind="{}">{}</span>', kind, kind, _KIND_BADGES[kind]
    )


@register.simple_tag
def owner_badge(token: PersonalAccessToken) -> str:
    """Whose token it is: a person's (personal) or the organisation's (a service account's)."""
    if token.service_account_id is not None:
        return mark_safe(
            '<span class="owner-badge owner-service" title="Owned by the organisation">'
            '<span class="badge-mark" aria-hidden="true">⚙</span> Service account</span>'
        )
    return mark_safe('<span class="owner-badge owner-personal">Personal</span>')


@register.filter
def scope_label(scope: str) -> str:
    return scope_rules.DESCRIPTIONS.get(scope, scope)


@register.filter
def resource_label(resource: str) -> str:
    return resource.capitalize()


@register.filter
def num(number: int | None) -> str:
    """12345 -> 12,345."""
    return f"{number or 0:,}"


@register.filter
def ago(moment: datetime | None) -> str:
    """'just now', '5 minutes ago', '3 days ago' (the largest unit only)."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


def _is_moment(text: str) -> bool:
    try:
        return parse_datetime(text) is not None
    except ValueError:  # shaped like a moment but not one ("2026-13-45T00:00")
        return False


@register.filter
def evidence_facts(evidence: Any) -> list[tuple[str, str]]:
    """A finding's evidence as (label, value) rows; ISO moments read as "29 Nov 2026, 02:36 UTC"."""
    if not isinstance(evidence, dict):
        return [("Detail", text)] if (text := facts.plain(evidence)) else []
    rows = []
    for key, value in evidence.items():
        is_moment = isinstance(value, str) and _is_moment(value)
        rows.append((facts.label(key), facts.moment(value) if is_moment else facts.plain(value)))
    return rows


@register.filter
def compact(number: int) -> str:
    """1234 -> 1.2k, for chart labels."""
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M".replace(".0M", "M")
    if number >= 1_000:
        return f"{number / 1_000:.1f}k".replace(".0k", "k")
    return str(number)


# --- usage chart ------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
MIN_VISIBLE = 1.5  # px: a single failed request must still show up as a sliver


@dataclass(frozen=True)
class Segment:
    css: str
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    day: DayUsage
    x: float
    width: float
    segments: tuple[Segment, ...]
    label: str | None

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)

    @property
    def title(self) -> str:
        day = self.day
        return (
            f"{dateformat.format(day.day, 'D j M')}: {day.total} request{_s(day.total)} — "
            f"{day.ok} succeeded, {day.client_errors} client error{_s(day.client_errors)}, "
            f"{day.server_errors} server error{_s(day.server_errors)}"
        )

    def svg(self, *, baseline: float, label_y: int) -> str:
        """The bar's group, markup built here: thirty bars through the template language were
        a thousand variable lookups, a quarter of the token page's time. Every value is a
        number or a fixed class but the title, which is escaped."""
        x, width = f"{self.x:g}", f"{self.width:g}"
        parts = [
            f'<g class="day">\n      <title>{escape(self.title)}</title>\n      '
            f'<rect class="hit" x="{x}" y="0" width="{width}" height="{baseline:g}"/>\n      '
        ]
        parts += [
            f'<rect class="{segment.css}" x="{x}" y="{segment.y:g}" width="{width}" '
            f'height="{segment.height:g}"/>'
            for segment in self.segments
        ]
        if self.label:
            parts.append(
                f'\n      <text class="x-label" x="{self.center:g}" y="{label_y}">'
                f"{escape(self.label)}</text>"
            )
        parts.append("\n    </g>")
        return "".join(parts)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _day_rows(days: Sequence[DayUsage]) -> str:
    """The chart's numbers as table rows, newest first (built here like the bars)."""
    return "".join(
        f'<tr><td>{dateformat.format(d.day, "D j M")}</td><td class="num">{d.total}</td>'
        f'<td class="num">{d.ok}</td><td class="num">{d.client_errors}</td>'
        f'<td class="num">{d.server_errors}</td></tr>'
        for d in reversed(days)
    )


def nice_ceiling(value: int) -> int:
    """A round axis top at or above `value`: 1, 2, 3, 4, 5, 6 or 8 times 10^k (at least 2),
    even, so the middle grid line gets a whole-number label too."""
    if value <= 2:
        return 2
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 3, 4, 5, 6, 8, 10):
        top = step * exponent
        if top >= value and top % 2 == 0:
            return top
    return 10 * exponent  # pragma: no cover


@register.inclusion_tag("portal/_usage_chart.html")
def usage_chart(days: Sequence[DayUsage]) -> dict:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((d.total for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    baseline = TOP + plot_h
    bars = []
    for index, day in enumerate(days):
        y = baseline
        segments = []
        for css, value in (
            ("seg-ok", day.ok),
            ("seg-4xx", day.client_errors),
            ("seg-5xx", day.server_errors),
        ):
            if not value:
                continue
            height = max(value / top * plot_h, MIN_VISIBLE)
            y -= height
            segments.append(Segment(css, round(y, 2), round(height, 2)))
        from_end = len(days) - 1 - index
        label = day.day.strftime("%-d %b") if from_end % 7 == 0 else None
        bars.append(
            Bar(
                day,
                round(LEFT + index * slot + slot * 0.15, 2),
                round(slot * 0.7, 2),
                tuple(segments),
                label,
            )
        )
    grid = [
        {"y": round(baseline - fraction * plot_h, 2), "label": compact(int(top * fraction))}
        for fraction in (0, 0.5, 1)
        if fraction == 0 or top * fraction == int(top * fraction)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "label_x": LEFT - 6,
        "right": WIDTH - RIGHT,
        "baseline": baseline,
        "label_y": HEIGHT - 8,
        "bars": bars,
        "bars_svg": mark_safe(  # noqa: S308 (numbers, fixed classes and escaped text)
            "\n    ".join(bar.svg(baseline=baseline, label_y=HEIGHT - 8) for bar in bars)
        ),
        "grid": grid,
        "empty": not any(d.total for d in days),
        "center_x": round((LEFT + WIDTH - RIGHT) / 2, 2),
        "center_y": round(TOP + plot_h / 2, 2),
        "days": days,
        "day_rows": mark_safe(_day_rows(days)),  # noqa: S308 (dates and numbers only)
    }
