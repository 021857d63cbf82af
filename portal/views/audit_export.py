"""The audit log as CSV: the filtered view of the organisation's audit page, streamed.

Rows come from the database in chunks (`iterator(chunk_size=…)`) and leave as they are
written, so an export of millions of events holds one chunk in memory. Cells a spreadsheet
would run as a formula (starting with = + - @, or a tab / carriage return) are prefixed with a
quote (OWASP's CSV-injection advice). Same access as the page: any member of the organisation.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from portal import selectors
from portal.forms import AuditFilterForm
from portal.views.organization import membership_or_404
from tokens import audit_chain
from tokens.selectors import audit_events_visible_to

CHUNK = 2000
COLUMNS = (
    "created_at",
    "action",
    "actor_kind",
    "actor_label",
    "token_prefix",
    "ip",
    "user_agent",
    "details",
    "seq",
    "prev_hash",
    "hash",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


class _Echo:
    """csv.writer writes each row here and gets the line back, to stream it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for created_at, *middle, details, seq, prev_hash, digest in rows:
        cells = [audit_chain.format_time(created_at), *middle]
        cells.append(json.dumps(details, ensure_ascii=False, sort_keys=True))
        yield writer.writerow([*(safe_cell(cell) for cell in cells), seq, prev_hash, digest])


@login_required
def organization_audit_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    membership = membership_or_404(request, slug)
    organization = membership.organization
    filters = AuditFilterForm(request.GET or None)
    events = audit_events_visible_to(request.user, organization)
    if filters.is_valid():
        events = selectors.filtered_audit_log(
            events, **{k: v for k, v in filters.cleaned_data.items() if v}
        )
    rows = (
        events.select_related(None)
        .order_by("-created_at", "-id")
        .values_list(
            "created_at",
            "action",
            "actor_kind",
            "actor_label",
            "token_prefix",
            "ip",
            "user_agent",
            "details",
            "chain_seq",
            "prev_hash",
            "hash",
        )
    )
    response = StreamingHttpResponse(
        csv_lines(rows.iterator(chunk_size=CHUNK)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{slug}-audit-log-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
