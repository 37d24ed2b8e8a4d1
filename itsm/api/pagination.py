"""Pagination: page numbers for small collections, cursors for large ones.

`page_size` is strict: a value that is not a whole number from 1 is a 400 naming it, as the
schema says, instead of silently falling back to the default; above 200 it gives 200.
"""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from .filters import parse_id


class StrictPageSizeMixin:
    """`?page_size=` from 1 to `max_page_size`; anything else is a 400 naming the parameter."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        value = parse_id(raw)
        if value is None:
            raise ValidationError({self.page_size_query_param: ["A whole number from 1."]})
        return min(value, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = f"Rows per page, at most {self.max_page_size} (larger values give that)."
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class PageNumberPagination(StrictPageSizeMixin, pagination.PageNumberPagination):
    """`?page=`, `?page_size=` (max 200). For configuration lists, which stay small."""

    page_size = 50
    last_page_strings = ()

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if parse_id(raw) is None:
            raise ValidationError({self.page_query_param: ["A whole number from 1."]})
        return raw


class CursorPagination(StrictPageSizeMixin, pagination.CursorPagination):
    """`?cursor=`, `?page_size=` (max 200): page 5,000 costs what page 1 costs, no COUNT(*)."""

    page_size = 50
    ordering = "-id"
