"""Shared pieces of the ops console (Django admin): fast lists over big tables, read-only
admins, and the intermediate page that asks for a reason before an action runs.

Audit events and the usage log grow to millions of rows. Django admin counts the whole
(filtered) table on every list page, twice by default (`paginator.count` and the "N total" of
`show_full_result_count`); on PostgreSQL that is a sequential scan per page view. The helpers
here count at most `count_cap` rows instead and say "10,000+" when there are more.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

# Fields the admin's own forms post; everything else in an action's POST is echoed back by the
# reason page so that the action runs again on exactly the same selection.
_OWN_FIELDS = {"csrfmiddlewaretoken", "reason", "_confirm"}
CONFIRM_FIELD = "_confirm"


class CappedCountPaginator(Paginator):
    """A paginator that never counts more than `count_cap` rows.

    `count` runs `SELECT COUNT(*) FROM (SELECT … ORDER BY … LIMIT cap + 1)`: on an indexed
    ordering that reads at most cap + 1 index entries however big the table is. Past the cap
    the list shows the first `count_cap / per_page` pages and says so; narrowing with a filter
    or a search is how ops reach older rows (deep OFFSET pages would be slow anyway).
    """

    count_cap = 10_000
    count_capped = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list.values("pk")[: self.count_cap + 1].count()
        self.count_capped = counted > self.count_cap
        return min(counted, self.count_cap)


class BoundedChangeList(ChangeList):
    """Every read of the rows has a LIMIT. Django fetches a one-page result without one (the
    count said it fits); rows arriving between the count and the fetch would all come along."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if isinstance(self.result_list, QuerySet) and not self.result_list.query.is_sliced:
            self.result_list = self.result_list[: self.list_per_page]


class LargeTableAdmin(admin.ModelAdmin):
    """List settings for tables that grow without bound (audit log, usage log).

    No full count (capped paginator, no "N total"), no facet counts, no "Show all", and sorting
    only by the columns an index serves (set `sortable_by` per admin).
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    # "Show all" is offered only when the whole result fits on one page: never a million rows.
    list_max_show_all = 0
    sortable_by: tuple[str, ...] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList


class ReadOnlyAdminMixin:
    """Nobody changes these rows in admin, superusers included: no add, change or delete (and
    so no delete action). Viewing needs the model's view permission."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pinned_filter(field: str, model: type, title: str) -> type[admin.SimpleListFilter]:
    """A filter by one related row (`?token=42`), set by a link from that row's page.

    Not a list to pick from: a sidebar listing every token would read the whole tokens table
    on each page view. It shows only while set, so ops see what narrows the list and can clear it.
    """

    class PinnedFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
            value = self.value()
            if not value or not value.isdigit():
                return []
            row = model._default_manager.filter(pk=int(value)).first()
            return [(value, str(row) if row is not None else f"#{value} (gone)")]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            value = self.value()
            if value is None:
                return queryset
            if not value.isdigit():
                raise IncorrectLookupParameters(f"{field} must be a number")
            return queryset.filter(**{f"{field}_id": int(value)})

    PinnedFilter.title = title
    PinnedFilter.__name__ = PinnedFilter.__qualname__ = f"{field.title()}PinnedFilter"
    return PinnedFilter


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def __init__(self, *args: Any, required: bool, label: str, help_text: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        field.required = required
        field.label = label
        field.help_text = help_text


def ask_reason(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    objects: QuerySet | list,
    title: str,
    button: str,
    label: str = "Reason",
    help_text: str = "",
    required: bool = True,
    total: int | None = None,
) -> str | TemplateResponse:
    """The reason (cleaned) once confirmed, or the intermediate page asking for it.

    Call it from an admin action: the first POST (from the list or the change form) gets the
    page; the page posts the same action and selection back with the reason, and the second
    call returns the reason. A missing required reason shows the page again with the error.
    """
    confirmed = CONFIRM_FIELD in request.POST
    form = ReasonForm(
        request.POST if confirmed else None, required=required, label=label, help_text=help_text
    )
    if confirmed and form.is_valid():
        return form.cleaned_data["reason"]
    echoed = [
        (name, value)
        for name in request.POST
        if name not in _OWN_FIELDS
        for value in request.POST.getlist(name)
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "button": button,
        "form": form,
        "objects": objects,
        "total": len(objects) if total is None else total,
        "echoed": echoed,
        "confirm_field": CONFIRM_FIELD,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/reason_confirmation.html", context)
