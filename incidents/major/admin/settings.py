"""The major incident practice's settings page: one row, edited in place by administrators."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from unfold.admin import ModelAdmin

from incidents.major.models import MajorIncidentSettings


@admin.register(MajorIncidentSettings)
class MajorIncidentSettingsAdmin(ModelAdmin):
    """Cadences, re-page delay and count, responder hourly rate (administrators change; MIMs read)."""

    fieldsets = [
        ("Stakeholder updates", {"fields": [("cadence_p1_minutes", "cadence_default_minutes")]}),
        ("Paging", {"fields": [("repage_after_minutes", "max_pages")]}),
        ("Business impact", {"fields": ["responder_hourly_rate"]}),
        (None, {"fields": ["updated_at"]}),
    ]
    readonly_fields = ["updated_at"]
    warn_unsaved_form = True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect("admin:incidents_majorincidentsettings_change", MajorIncidentSettings.current().pk)

    def response_change(self, request: HttpRequest, obj) -> HttpResponse:
        self.message_user(request, "Major incident settings saved.", messages.SUCCESS)
        return redirect("admin:incidents_majorincidentsettings_change", obj.pk)
