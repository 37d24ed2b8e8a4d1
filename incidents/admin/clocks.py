"""SLA clocks in the console: every clock, read-only (the engine in `incidents.sla` is the only writer)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import display

from incidents.models import SlaClock
from incidents.sla import CALENDAR_PREFETCH, current_elapsed
from itsm.admin_large import LargeTableAdminMixin

from .changelist import ChoicesInFilter
from .display import CLOCK_STAGE_COLOURS, badge, parse_number, short_duration


@admin.register(SlaClock)
class SlaClockAdmin(LargeTableAdminMixin, ModelAdmin):
    """Every clock, read-only (the engine in incidents.sla is the only writer)."""

    list_display = [
        "incident_link",
        "kind",
        "policy",
        "stage_badge",
        "started_at",
        "due_at",
        "breached_at",
        "stopped_at",
        "elapsed",
    ]
    list_filter = [("stage", ChoicesInFilter), ("kind", ChoicesInFilter)]
    list_filter_submit = True
    list_select_related = ["incident", "policy"]
    ordering = ["-id"]
    sortable_by = []
    search_fields = ["incident__number"]
    search_help_text = "Incident number: INC0000123 or 123."

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related(CALENDAR_PREFETCH)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        parsed = parse_number(search_term)
        if parsed:
            return queryset.filter(incident__number=parsed[0]), False
        if search_term.strip():
            return queryset.filter(incident__number__iexact=search_term.strip()), False
        return queryset, False

    @display(description="Incident", ordering="incident_id")
    def incident_link(self, obj: SlaClock) -> str:
        url = reverse("admin:incidents_incident_change", args=[obj.incident_id])
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, obj.incident.number)

    @display(description="Stage")
    def stage_badge(self, obj: SlaClock) -> str:
        return badge(CLOCK_STAGE_COLOURS.get(obj.stage, "default"), obj.get_stage_display())

    @display(description="Elapsed / target")
    def elapsed(self, obj: SlaClock) -> str:
        return f"{short_duration(current_elapsed(obj))} / {short_duration(obj.target_seconds)}"
