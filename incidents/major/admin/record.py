"""The major incident console: the list and the workbench (the change page), plus the updates log.

Major incidents are proposed or declared from their incident's page (`incidents.admin`), so
there is no add page here; nothing is deleted. The change page is the workbench
(`.workbench` builds it, `.views` holds its buttons); every change it makes goes through the
services in `incidents.major`, never through a model form.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display

from incidents.admin.changelist import ChoicesInFilter
from incidents.admin.display import badge
from incidents.major import policy
from incidents.major.models import MajorIncident, StakeholderUpdate
from incidents.models import Incident
from incidents.narration import person
from itsm.models import Service

from .display import MI_STATE_COLOURS, UPDATE_STATUS_COLOURS, late_text
from .views import WorkbenchViewsMixin


def linked_count() -> Coalesce:
    """Incidents linked to each row (the primary left out), as one correlated subquery."""
    linked = (
        Incident.objects.filter(major_incident=OuterRef("pk"))
        .exclude(pk=OuterRef("incident_id"))
        .order_by()
        .values("major_incident")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(linked, output_field=IntegerField()), Value(0))


@admin.register(MajorIncident)
class MajorIncidentAdmin(WorkbenchViewsMixin, ModelAdmin):
    """Major incidents: the list (state, manager, services, linked count) and the workbench."""

    list_display = [
        "number",
        "title",
        "state_badge",
        "manager_name",
        "declared_at",
        "services",
        "linked",
    ]
    list_display_links = ["number", "title"]
    list_select_related = ["manager"]
    list_filter = [("state", ChoicesInFilter), ("affected_services", AutocompleteSelectFilter)]
    list_filter_submit = True
    search_fields = ["number", "title"]
    search_help_text = "A major incident number (MIM0000012) or words of the title."
    ordering = ["-id"]
    sortable_by = ["number", "declared_at"]
    list_per_page = 25

    # --- permissions: the Django model permissions the roles carry AND incidents.major.policy ----
    def has_view_permission(self, request: HttpRequest, obj: MajorIncident | None = None) -> bool:
        return super().has_view_permission(request, obj) and bool(policy.can_view(request.user, obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # proposed or declared from the incident's page

    def has_delete_permission(self, request: HttpRequest, obj: MajorIncident | None = None) -> bool:
        return False  # rejected or closed, never deleted

    # --- list ------------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Services come with the page in one query; the linked count is a correlated subquery.
        services = Prefetch("affected_services", queryset=Service.objects.only("id", "name").order_by("name"))
        return super().get_queryset(request).annotate(linked_total=linked_count()).prefetch_related(services)

    @display(description="State", ordering="state")
    def state_badge(self, obj: MajorIncident) -> str:
        return badge(MI_STATE_COLOURS.get(obj.state, "default"), obj.get_state_display())

    @display(description="Manager")
    def manager_name(self, obj: MajorIncident) -> str:
        return person(obj.manager) or "—"

    @display(description="Affected services")
    def services(self, obj: MajorIncident) -> str:
        return ", ".join(s.name for s in obj.affected_services.all()) or "—"

    @display(description="Linked", ordering="linked_total")
    def linked(self, obj: MajorIncident) -> int:
        return getattr(obj, "linked_total", 0)

    # --- the workbench ------------------------------------------------------------------------------
    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> MajorIncident | None:
        """One load per request, with the people and the review the workbench shows."""
        cache = request.__dict__.setdefault("_major_incident_objects", {})
        key = (str(object_id), from_field)
        if key not in cache:
            queryset = MajorIncident.objects.select_related(
                "incident", "manager", "comms_lead", "tech_lead", "proposed_by", "review"
            )
            try:
                cache[key] = queryset.get(pk=int(object_id))
            except (MajorIncident.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> Any:
        """The workbench; every change is a POST to one of the workbench's own views."""
        mi = self.get_object(request, object_id)
        if mi is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, mi):
            raise PermissionDenied
        if request.method == "POST":
            return self._back(mi)  # the page itself takes no POST: each form posts to its own view
        return self.render_workbench(request, mi)


@admin.register(StakeholderUpdate)
class StakeholderUpdateAdmin(ModelAdmin):
    """Every stakeholder update posted, newest first, with its cadence compliance (read-only)."""

    list_display = ["posted_at", "record", "audience", "status_badge", "compliance", "author_name", "excerpt"]
    list_select_related = ["major_incident", "author"]
    list_filter = [("audience", ChoicesInFilter), ("status", ChoicesInFilter)]
    search_fields = ["major_incident__number", "body"]
    ordering = ["-posted_at", "-id"]
    list_per_page = 25
    readonly_fields = [
        "major_incident",
        "audience",
        "status",
        "body",
        "posted_at",
        "author",
        "due_at",
        "next_update_due_at",
        "late_seconds",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posted from the workbench (updates.post_update)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # append-only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @display(description="Major incident", ordering="major_incident__number")
    def record(self, obj: StakeholderUpdate) -> str:
        return obj.major_incident.number

    @display(description="Status")
    def status_badge(self, obj: StakeholderUpdate) -> str:
        return badge(UPDATE_STATUS_COLOURS.get(obj.status, "default"), obj.get_status_display())

    @display(description="Cadence")
    def compliance(self, obj: StakeholderUpdate) -> str:
        return badge("danger" if obj.late_seconds else "success", late_text(obj.late_seconds))

    @display(description="Author")
    def author_name(self, obj: StakeholderUpdate) -> str:
        return person(obj.author) or "system"

    @display(description="Update")
    def excerpt(self, obj: StakeholderUpdate) -> str:
        return obj.body if len(obj.body) <= 120 else obj.body[:119] + "…"
