"""The incident practice's settings page: one row, edited in place (never added or deleted)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from unfold.admin import ModelAdmin

from incidents.models import IncidentSettings


@admin.register(IncidentSettings)
class IncidentSettingsAdmin(ModelAdmin):
    """The single settings row: auto-close delay, reopen window, hold reminders."""

    fields = ["auto_close_after_hours", "reopen_window_days", "hold_reminder_after_hours", "updated_at"]
    readonly_fields = ["updated_at"]
    warn_unsaved_form = True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect("admin:incidents_incidentsettings_change", IncidentSettings.current().pk)

    def response_change(self, request: HttpRequest, obj) -> HttpResponse:
        self.message_user(request, "Incident settings saved.", messages.SUCCESS)
        return redirect("admin:incidents_incidentsettings_change", obj.pk)
