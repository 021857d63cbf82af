"""GET /changelog: the API's changelog as JSON, from the same file as /api/changelog/.

Public, like Stripe's changelog and our own OpenAPI document: it holds nothing secret, and a
client should read it (to warn about a deprecation) without a token with any scope. It costs
no query (the file is parsed once per change), is limited per address like the leak report, and
is cacheable for five minutes.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.utils.cache import patch_cache_control
from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import TooManyRequests
from api.pagination import CURSOR_PARAM, KeysetPagination, _invalid
from api.schema import api_operation
from api.serializers import ChangelogEntryOut, ChangelogQuery
from api.views.base import ApiView, address_limit
from changelog import entries

CACHE_SECONDS = 300
# Per address (nothing else identifies a caller here); a client polling once a minute is fine.
CHANGELOG_PER_IP = "120/m"


class EntryPagination(KeysetPagination):
    """Cursor pages over the changelog's entries (a list in the file's order, newest first):
    the cursor is the id of the entry at the page's edge, so the same links, limits and errors
    as every other list."""

    def paginate_list(self, items: tuple[entries.Entry, ...], request: Request) -> list:
        self.request = request
        self.limit = self._limit(request)
        index = {item.id: position for position, item in enumerate(items)}
        after, backwards = self._position(request.query_params.get(CURSOR_PARAM), index)
        if backwards:
            start = max(0, after - self.limit)
            page = list(items[start:after])
            self.has_previous, self.has_next = start > 0, True
        else:
            start = 0 if after is None else after + 1
            page = list(items[start : start + self.limit])
            self.has_previous = after is not None
            self.has_next = start + self.limit < len(items)
        self.has_next = self.has_next and bool(page)
        self.has_previous = self.has_previous and bool(page)
        self.page = page
        return page

    def _position(self, cursor: str | None, index: dict[str, int]) -> tuple[Any, bool]:
        if not cursor:
            return None, False
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            return index[document["e"]], bool(document["b"])
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
            raise _invalid(
                CURSOR_PARAM,
                "This cursor is not valid here. Use the `next` or `previous` link as given.",
                "invalid_cursor",
            ) from None

    def _link(self, row: entries.Entry, *, backwards: bool) -> str:
        from rest_framework.utils.urls import replace_query_param

        document = json.dumps({"e": row.id, "b": int(backwards)}, separators=(",", ":"))
        encoded = base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")
        return replace_query_param(self.request.build_absolute_uri(), CURSOR_PARAM, encoded)


class Changelog(ApiView):
    authentication_classes = []
    permission_classes = []
    pagination_class = EntryPagination
    serializer_class = ChangelogEntryOut

    def perform_authentication(self, request: Request) -> None:
        """Public: a token, if sent, is neither needed nor checked."""

    @api_operation(
        summary="List changelog entries",
        description="Every change of the API, newest first: its semantic version and date, "
        "what kind of change it is (`added`, `changed`, `deprecated`, `removed`), the "
        "operations it affects (by operationId) and, for a deprecation, the sunset date after "
        "which they stop working (at least six months later). The same entries as the "
        "[changelog page](/api/changelog/). v1 never breaks: within it we only add, and we "
        "remove an operation only after its deprecation's sunset. No token needed; limited to "
        f"{CHANGELOG_PER_IP} per address.",
        tags=["Changelog"],
        operation_id="changelog_list",
        scope=None,
        authenticated=False,
        responses={200: ChangelogEntryOut(many=True)},
        errors=[400],
        paginated=True,
    )
    def get(self, request: Request) -> Response:
        usage = address_limit(request, group="api:changelog", rate=CHANGELOG_PER_IP, increment=True)
        if usage is not None and usage["should_limit"]:
            raise TooManyRequests(
                wait=max(1, usage["time_left"]), detail="Too many requests from this address."
            )
        self.validated_query(ChangelogQuery)
        page = self.paginator.paginate_list(entries.entries(), request)
        response = self.paginator.get_paginated_response(self.get_serializer(page, many=True).data)
        patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
        return response
