"""Change lists over big tables (a million incidents, clocks, timeline rows, notifications).

Django's change list counts the whole table (`SELECT COUNT(*)`) for every page and again for the
"N results" header. Here the count is bounded: the planner's estimate when unfiltered, a capped
count when filtered, and no count at all when the page read shows the total by itself. Any
console list over a large table sets `LargeTableAdminMixin` before Unfold's `ModelAdmin`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList as DjangoChangeList
from django.core.paginator import InvalidPage, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from unfold.views import ChangeList as UnfoldChangeList

COUNT_CAP = 1_000  # a change list counts filtered rows up to this many, never more (40 pages of 25)


def estimated_rows(model, using: str = "default") -> int | None:
    """PostgreSQL's planner estimate of a table's rows (pg_class.reltuples); None elsewhere or unknown."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] < 0:
        return None  # never analysed
    return int(row[0])


class LargeTablePaginator(Paginator):
    """Page numbers without counting the table.

    * Unfiltered on PostgreSQL: the planner's estimate (`pg_class.reltuples`, no scan) labels the
      list "about N"; below COUNT_CAP rows an exact, cheap count is used instead.
    * Filtered (or elsewhere): `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, which stops
      after cap + 1 matching rows, so the cost is bounded by the cap, never by the table.

    Either way pages are navigable up to the cap (OFFSET never exceeds it); narrow the filters to
    go further. `count_label` says which kind of number is shown.
    """

    template_name = "admin/itsm/large_table_pagination.html"
    cap = COUNT_CAP

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.estimated_total: int | None = None
        self.capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if not queryset.query.where:
            estimate = estimated_rows(queryset.model, queryset.db)
            if estimate is not None and estimate > self.cap:
                self.estimated_total = estimate
                return self.cap
        counted = queryset.order_by()[: self.cap + 1].count()
        if counted > self.cap:
            self.capped = True
            return self.cap
        return counted

    @property
    def count_label(self) -> str:
        count = self.count
        noun = self.object_list.model._meta.verbose_name_plural if isinstance(self.object_list, QuerySet) else "rows"
        if self.estimated_total is not None:
            return f"about {self.estimated_total:,} {noun}"
        if self.capped:
            return f"more than {self.cap:,} {noun} (narrow the filters to see further)"
        if count == 1 and isinstance(self.object_list, QuerySet):
            return f"1 {self.object_list.model._meta.verbose_name}"
        return f"{count:,} {noun}"


class LargeTableChangeList(UnfoldChangeList):
    """Unfold's change list, fetching the page before counting.

    The requested page is read with one row more than fits. A short page tells the total by
    itself, so no count runs at all (a rare search word scans the table once, not twice); a full
    page is counted by LargeTablePaginator and shown from the rows already read. The header's
    "N results (Show all)" is left to the paginator's label.
    """

    def get_results(self, request: HttpRequest) -> None:
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        rows: list | None = None
        if not self.show_all and self.page_num >= 1:
            offset = (self.page_num - 1) * self.list_per_page
            rows = list(self.queryset[offset : offset + self.list_per_page + 1])
            if len(rows) <= self.list_per_page and (rows or self.page_num == 1):
                paginator.__dict__["count"] = offset + len(rows)  # the total is known: no count query
        result_count = paginator.count
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if self.show_all and can_show_all:
            result_list = self.queryset._clone()
        elif rows is not None and (multi_page or self.page_num == 1):
            try:
                paginator.validate_number(self.page_num)
            except InvalidPage as exc:
                raise IncorrectLookupParameters from exc
            result_list = rows[: self.list_per_page]
        elif not multi_page:
            result_list = self.queryset._clone()
        else:
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage as exc:
                raise IncorrectLookupParameters from exc
        self.result_count = result_count
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.show_admin_actions = True
        self.full_result_count = result_count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator


class LargeTableAdminMixin:
    """What every console list over a big table sets (see LargeTablePaginator)."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Unfold renders each cell through templates (~1.2 ms of CPU per 10-column row): 25 rows keep
    # a page near 65 ms of CPU; 50 would be ~95 ms.
    list_per_page = 25
    list_max_show_all = 200

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[DjangoChangeList]:
        return LargeTableChangeList
