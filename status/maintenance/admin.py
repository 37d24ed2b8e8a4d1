"""The maintenance console: the list, the announce/change form and the cancel buttons.

Every change goes through `status.maintenance.services` (the form's last validation step calls
`announce` or `update_window`, so a refusal shows on the form with what was typed); nothing is
deleted. Completed and cancelled windows are read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from incidents.admin.display import badge
from incidents.admin.forms import SERVICE_ERRORS, add_service_errors, error_text
from itsm.models import Service
from status.choices import MaintenanceState as M
from status.models import MaintenanceWindow

from . import policy, services

STATE_COLOURS = {M.SCHEDULED: "info", M.IN_PROGRESS: "warning", M.COMPLETED: "success", M.CANCELLED: "default"}
FORM_FIELDS = ["title", "description", "services", "starts_at", "ends_at", "pause_sla"]


class MaintenanceWindowForm(forms.ModelForm):
    """Announce (new) or change (existing) a window through the services, with the loaded version."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    actor = None  # set per request by the admin

    class Meta:
        model = MaintenanceWindow
        fields = FORM_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "services" in self.fields:
            self.fields["services"].queryset = Service.objects.filter(active=True).order_by("name")
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def _post_clean(self) -> None:
        # No model validation of our own: the service validates and names every bad field.
        if self.errors:
            return
        data = {name: self.cleaned_data.get(name) for name in FORM_FIELDS}
        data["services"] = list(data["services"] or [])
        try:
            if self.instance.pk is None:
                self.instance = services.announce(actor=self.actor, **data)
            else:
                changes = {name: data[name] for name in self.changed_data if name in FORM_FIELDS}
                self.instance = services.update_window(
                    self.instance.pk,
                    actor=self.actor,
                    changes=changes,
                    expected_version=self.cleaned_data.get("loaded_version"),
                )
        except SERVICE_ERRORS as exc:
            add_service_errors(self, exc)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ModelAdmin):
    """Scheduled maintenance: announce, change while scheduled or running, cancel."""

    form = MaintenanceWindowForm
    list_display = ["title", "service_names", "starts_at", "ends_at", "state_badge", "pause_sla"]
    list_filter = ["state", "pause_sla"]
    search_fields = ["title", "description"]
    ordering = ["-starts_at", "-id"]
    list_per_page = 25
    filter_horizontal = ["services"]
    actions = ["cancel_selected"]
    actions_detail = ["cancel_window"]
    readonly_fields = ["state", "announced_at", "started_at", "completed_at", "cancelled_at"]

    def get_fieldsets(self, request: HttpRequest, obj: MaintenanceWindow | None = None):
        main = [(None, {"fields": ["title", "description", "services", ("starts_at", "ends_at"), "pause_sla"]})]
        if obj is None:
            return [(None, {"fields": [*main[0][1]["fields"], "loaded_version"]})]
        moments = ("Lifecycle", {"fields": ["state", "announced_at", "started_at", "completed_at", "cancelled_at"]})
        if self.has_change_permission(request, obj):
            return [(None, {"fields": [*main[0][1]["fields"], "loaded_version"]}), moments]
        return [*main, moments]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("services")

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    # --- permissions: the role grants AND status.maintenance.policy ---------------------------
    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) and bool(policy.can_view(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and bool(policy.can_manage(request.user))

    def has_change_permission(self, request: HttpRequest, obj: MaintenanceWindow | None = None) -> bool:
        if obj is not None and obj.state not in services.CHANGEABLE_STATES:
            return False
        return super().has_change_permission(request, obj) and bool(policy.can_manage(request.user))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # cancelled, never deleted

    # --- saving: the form already called the service -----------------------------------------
    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        """Nothing left to do: the form's last validation step called the service."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The service set the services."""

    # --- list ------------------------------------------------------------------------------------
    @display(description="Services")
    def service_names(self, obj: MaintenanceWindow) -> str:
        return ", ".join(sorted(s.name for s in obj.services.all())) or "—"

    @display(description="State", ordering="state")
    def state_badge(self, obj: MaintenanceWindow) -> str:
        return badge(STATE_COLOURS.get(obj.state, "default"), obj.get_state_display())

    # --- cancel ----------------------------------------------------------------------------------
    def _cancel(self, request: HttpRequest, window: MaintenanceWindow) -> bool:
        try:
            services.cancel(window, actor=request.user, reason="")
        except SERVICE_ERRORS as exc:
            messages.error(request, f"{window}: {error_text(exc)}")
            return False
        return True

    @admin.action(description="Cancel selected windows", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        done = sum(self._cancel(request, window) for window in queryset.order_by("id"))
        if done:
            messages.success(request, f"{done} maintenance window(s) cancelled; subscribers are told.")

    @action(description="Cancel window", url_path="cancel", icon="event_busy")
    def cancel_window(self, request: HttpRequest, object_id: str) -> HttpResponse:
        window = MaintenanceWindow.objects.filter(pk=object_id).first()
        if window is None or not self.has_view_permission(request, window):
            raise PermissionDenied
        if self._cancel(request, window):
            messages.success(request, f"{window} cancelled; subscribers are told.")
        return HttpResponseRedirect(reverse("admin:status_maintenancewindow_change", args=[window.pk]))

    def get_actions_detail(self, request: HttpRequest, object_id) -> list:
        """The cancel button only while the window may be cancelled by this user."""
        window = MaintenanceWindow.objects.filter(pk=object_id).first() if object_id else None
        if window is None or not services.available_transitions(window, request.user):
            return []
        return super().get_actions_detail(request, object_id)
