"""`ReadOnlyAdminMixin`: console pages of rows only the product writes (logs, snapshots, firings)."""

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Nobody adds, edits or deletes these rows in the console; viewing follows the view permission."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
