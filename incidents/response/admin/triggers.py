"""Console pages of trigger rules: the rules with how often each fired and what became of its
proposals, and the firings (read-only)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from incidents.response import triggers
from incidents.response.models import TriggerFiring, TriggerRule
from itsm.admin_large import LargeTableAdminMixin
from itsm.admin_readonly import ReadOnlyAdminMixin


@admin.register(TriggerRule)
class TriggerRuleAdmin(ModelAdmin):
    """Trigger rules (off by default, ordered, first match wins) with their statistics."""

    list_display = [
        "name",
        "position",
        "active",
        "action",
        "summary",
        "fired",
        "proposed",
        "accepted",
        "rejected",
        "pending",
    ]
    list_filter = ["active", "action"]
    search_fields = ["name", "description"]
    ordering = ["position", "id"]
    fields = ["name", "description", "active", "position", "action", "conditions", "count_threshold", "window_minutes"]

    def get_queryset(self, request):
        return triggers.with_stats(super().get_queryset(request))

    @admin.display(description="Fires when")
    def summary(self, obj: TriggerRule) -> str:
        return triggers.describe(obj)

    @admin.display(description="Fired", ordering="fired")
    def fired(self, obj: TriggerRule) -> int:
        return obj.fired

    @admin.display(description="Proposed", ordering="proposed")
    def proposed(self, obj: TriggerRule) -> int:
        return obj.proposed

    @admin.display(description="Accepted", ordering="accepted")
    def accepted(self, obj: TriggerRule) -> int:
        return obj.accepted

    @admin.display(description="Rejected", ordering="rejected")
    def rejected(self, obj: TriggerRule) -> int:
        return obj.rejected

    @admin.display(description="Pending", ordering="pending")
    def pending(self, obj: TriggerRule) -> int:
        return obj.pending


@admin.register(TriggerFiring)
class TriggerFiringAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, ModelAdmin):
    """Every firing of a rule: the incident, what made it look, the decision, the major incident."""

    list_display = ["fired_at", "rule", "incident", "event", "decision", "major_incident"]
    list_filter = ["decision", "event", "rule"]
    search_fields = ["incident__number", "major_incident__number", "rule__name"]
    list_select_related = ["rule", "incident", "major_incident"]
    ordering = ["-pk"]
    fields = ["rule", "incident", "event", "decision", "major_incident", "detail", "fired_at"]
    readonly_fields = fields
