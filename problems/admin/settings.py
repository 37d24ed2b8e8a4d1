"""The problem practice's settings page: one row, edited in place by administrators."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from unfold.admin import ModelAdmin

from problems.models import ProblemSettings


@admin.register(ProblemSettings)
class ProblemSettingsAdmin(ModelAdmin):
    """Trend detection, the proactive cool-down and suggestions (administrators change; managers read)."""

    fieldsets = [
        (
            "Trend detection (proactive problems)",
            {
                "fields": [
                    ("cluster_min_incidents", "cluster_window_days"),
                    ("cluster_title_similarity", "cluster_similarity_threshold"),
                    "proactive_cooldown_days",
                ]
            },
        ),
        ("Known error suggestions", {"fields": ["suggestion_limit"]}),
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
        return redirect("admin:problems_problemsettings_change", ProblemSettings.current().pk)

    def response_change(self, request: HttpRequest, obj) -> HttpResponse:
        self.message_user(request, "Problem settings saved.", messages.SUCCESS)
        return redirect("admin:problems_problemsettings_change", obj.pk)
