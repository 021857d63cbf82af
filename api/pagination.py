"""Keyset (cursor) pagination: pages stay stable while rows keep arriving.

Every list has a total order that ends in `id`, so no two rows tie. A cursor is the ordering
values of the row at a page's edge; the next page is "rows after that row in this order" —
a WHERE on indexed columns, never an OFFSET, so new readings, alarms or records inserted
meanwhile neither repeat nor skip a row. (DRF's CursorPagination keeps only the first ordering
field in its cursor and breaks ties with an offset, which shifts when tied rows arrive.)

The cursor is opaque to clients (base64 of a small JSON document) and validated strictly: a
tampered, truncated or foreign cursor is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

CURSOR_PARAM = "cursor"
LIMIT_PARAM = "limit"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 1000


def _invalid(field: str, message: str, code: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [exceptions.ErrorDetail(message, code=code)]})


def _to_json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class KeysetPagination(BasePagination):
    """`view.get_ordering()` returns e.g. ("-raised_at", "-id"); the last field must be unique."""

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Model]:
        self.request = request
        self.ordering = tuple(view.get_ordering())
        self.model = queryset.model
        self.limit = self._limit(request)
        position, backwards = self._decode(request.query_params.get(CURSOR_PARAM))
        order = self.ordering if not backwards else tuple(_flip(f) for f in self.ordering)
        rows = queryset.order_by(*order)
        if position is not None:
            rows = rows.filter(_after(order, position))
        page = list(rows[: self.limit + 1])
        more = len(page) > self.limit
        page = page[: self.limit]
        if backwards:
            page.reverse()
        # Going forward, there is a previous page iff we came from a cursor; going backwards,
        # there is a next page (the one we came from) and a previous one iff more rows remain.
        self.has_next = (more if not backwards else True) and bool(page)
        self.has_previous = (position is not None if not backwards else more) and bool(page)
        self.page = page
        return page

    # --- links ----------------------------------------------------------------------------------

    def _link(self, row: Model, *, backwards: bool) -> str:
        values = [_to_json(getattr(row, field.lstrip("-"))) for field in self.ordering]
        document = {"o": list(self.ordering), "p": values, "b": int(backwards)}
        encoded = base64.urlsafe_b64encode(
            json.dumps(document, separators=(",", ":")).encode()
        ).decode()
        return replace_query_param(
            self.request.build_absolute_uri(), CURSOR_PARAM, encoded.rstrip("=")
        )

    def get_next_link(self) -> str | None:
        return self._link(self.page[-1], backwards=False) if self.has_next else None

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        return self._link(self.page[0], backwards=True)

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def first_page_link(self) -> str:
        return remove_query_param(self.request.build_absolute_uri(), CURSOR_PARAM)

    # --- input ----------------------------------------------------------------------------------

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get(LIMIT_PARAM)
        if raw is None or raw == "":
            return DEFAULT_LIMIT
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise _invalid(
                LIMIT_PARAM, f"Give a whole number from 1 to {MAX_LIMIT}.", "invalid_limit"
            )
        return limit

    def _decode(self, cursor: str | None) -> tuple[list[Any] | None, bool]:
        if cursor is None or cursor == "":
            return None, False
        message = "This cursor is not valid here. Use the `next` or `previous` link as given."
        try:
            if len(cursor) > MAX_CURSOR_CHARS:
                raise ValueError("too long")
            padded = cursor + "=" * (-len(cursor) % 4)
            document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(document, dict) or document.get("o") != list(self.ordering):
                raise ValueError("another ordering")
            raw_values, backwards = document["p"], document["b"]
            if not isinstance(raw_values, list) or len(raw_values) != len(self.ordering):
                raise ValueError("wrong length")
            if backwards not in (0, 1):
                raise ValueError("bad direction")
            values = [
                self._field(name).to_python(value)
                for name, value in zip(self.ordering, raw_values, strict=True)
            ]
            if any(value is None or "\x00" in str(value) for value in values):
                raise ValueError("null in position")
        except (
            ValueError,
            TypeError,
            KeyError,
            UnicodeError,
            binascii.Error,
            DjangoValidationError,
        ):
            raise _invalid(CURSOR_PARAM, message, "invalid_cursor") from None
        return values, bool(backwards)

    def _field(self, name: str):
        return self.model._meta.get_field(name.lstrip("-"))

    # --- OpenAPI --------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page, or null on the last one."},
                "previous": {**link, "description": "The page before, or null on the first."},
                "results": schema,
            },
        }


def _flip(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"


def _after(order: tuple[str, ...], position: list[Any]) -> Q:
    """Rows strictly after `position` in `order`: (a > x) OR (a = x AND b > y) OR …"""
    condition = Q()
    equal = Q()
    for field, value in zip(order, position, strict=True):
        name = field.lstrip("-")
        lookup = "lt" if field.startswith("-") else "gt"
        condition |= equal & Q(**{f"{name}__{lookup}": value})
        equal &= Q(**{name: value})
    return condition
