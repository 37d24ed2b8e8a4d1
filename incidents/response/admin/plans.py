"""Console pages of response plans: the plan with its checklist inline, the version history read-only.

Saving a plan (its fields and checklist) publishes a version through `plans.publish_version`,
the function the API's save uses; a version that did not change is not published again.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline

from incidents.response import plans
from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion
from itsm.admin_readonly import ReadOnlyAdminMixin


class PlanTaskInline(TabularInline):
    """The checklist: one row per step (a negative offset is refused by the field's validator)."""

    model = PlanTask
    extra = 0
    fields = ["position", "title", "description", "assignment_group", "role", "due_offset_minutes", "blocking"]
    autocomplete_fields = ["assignment_group"]
    ordering = ["position", "id"]


class PlanVersionInline(TabularInline):
    """The published versions, newest first (immutable)."""

    model = ResponsePlanVersion
    extra = 0
    fields = ["number", "created_at", "created_by", "task_count"]
    readonly_fields = fields
    ordering = ["-number"]
    can_delete = False
    verbose_name_plural = "version history"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Tasks")
    def task_count(self, obj: ResponsePlanVersion) -> int:
        return len(obj.content.get("tasks") or [])


@admin.register(ResponsePlan)
class ResponsePlanAdmin(ModelAdmin):
    """Response plans (ordered, first match wins): what they match, the checklist, the communication plan."""

    list_display = ["name", "position", "active", "matches", "task_total", "current_version", "updated_at"]
    list_editable = []
    list_filter = ["active"]
    search_fields = ["name", "description"]
    ordering = ["position", "id"]
    filter_horizontal = ["services", "categories"]
    readonly_fields = ["current_version"]
    fieldsets = [
        (None, {"fields": ["name", "description", "position", "active", "current_version"]}),
        ("Matches (empty: any)", {"fields": ["services", "categories", "priorities"]}),
        ("Communication plan", {"fields": ["audiences", "update_cadence_minutes", "update_templates"]}),
    ]
    inlines = [PlanTaskInline, PlanVersionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services", "categories", "tasks")

    @admin.display(description="Matches")
    def matches(self, obj: ResponsePlan) -> str:
        parts = []
        if services := [s.name for s in obj.services.all()]:
            parts.append("services: " + ", ".join(services))
        if categories := [c.name for c in obj.categories.all()]:
            parts.append("categories: " + ", ".join(categories))
        if obj.priorities:
            parts.append("priorities: " + ", ".join(f"P{p}" for p in obj.priorities))
        return "; ".join(parts) or "any incident"

    @admin.display(description="Tasks")
    def task_total(self, obj: ResponsePlan) -> int:
        return len(obj.tasks.all())

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        before = form.instance.current_version
        version = plans.publish_version(form.instance, request.user)
        if version.number != before:
            self.message_user(request, f"Published version {version.number}.", messages.SUCCESS)


@admin.register(ResponsePlanVersion)
class ResponsePlanVersionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Published plan versions: immutable snapshots (what a major incident declared under it used)."""

    list_display = ["plan", "number", "created_at", "created_by"]
    list_select_related = ["plan", "created_by"]
    list_filter = ["plan"]
    ordering = ["plan", "-number"]
    readonly_fields = ["plan", "number", "created_at", "created_by", "checklist", "communication"]
    fields = readonly_fields

    @admin.display(description="Checklist")
    def checklist(self, obj: ResponsePlanVersion) -> str:
        rows = [
            (t.get("title"), t.get("role") or f"group {t.get('assignment_group') or '-'}", t.get("due_offset_minutes"))
            for t in obj.content.get("tasks") or []
        ]
        if not rows:
            return "-"
        items = format_html_join("", "<li>{} ({}, due +{} min)</li>", rows)
        return format_html("<ol>{}</ol>", items)

    @admin.display(description="Communication plan")
    def communication(self, obj: ResponsePlanVersion) -> str:
        content = obj.content
        audiences = ", ".join(content.get("audiences") or []) or "-"
        cadence = content.get("update_cadence_minutes") or "practice default"
        templates = len(content.get("update_templates") or [])
        return f"Audiences: {audiences}; cadence: {cadence} min; {templates} update template(s)"
