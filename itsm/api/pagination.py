"""Pagination: page numbers for small collections, cursors for large ones."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=`, `?page_size=` (max 200). For configuration lists, which stay small."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CursorPagination(pagination.CursorPagination):
    """`?cursor=`, `?page_size=` (max 200): page 5,000 costs what page 1 costs, no COUNT(*)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"
