"""Pages of 50 rows for the portal's long lists (an organisation's tokens, audit log, findings).

Django's Paginator, with its row count capped: COUNT(*) over a whole audit log of millions of
rows would be the slowest query of the page, and nobody pages back 200 pages; past the cap the
page says "10,000+" and the filters narrow it down.
"""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    def __init__(
        self, object_list: QuerySet, per_page: int = PAGE_SIZE, *, cap: int | None = None
    ) -> None:
        super().__init__(object_list, per_page)
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def _found(self) -> int:
        # One COUNT over at most cap + 1 primary keys: no joins, no sort, a bounded scan.
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._found, self.cap)

    @property
    def capped(self) -> bool:
        """More rows than counted: the page shows "10,000+" and the last page is not the end."""
        return self._found > self.cap


def paginate(request: HttpRequest, rows: QuerySet, *, per_page: int = PAGE_SIZE) -> Page:
    """The page that ?page= asks for; the first for nonsense, the last for a number past it."""
    return CappedPaginator(rows, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current query string minus `page`, for the pagination links to keep the filters."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
