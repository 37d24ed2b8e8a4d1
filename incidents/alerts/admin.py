"""Console pages of alert ingestion: per-service alert routes (administrators), alert state and the
inbound email log (read-only).

Django only autodiscovers `incidents.admin`; that package imports this module.
"""

import json

from django.contrib import admin
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from incidents.alerts import conf
from incidents.models import AlertRoute, InboundMessage, IncidentAlert
from itsm.admin_large import LargeTableAdminMixin
from itsm.admin_readonly import ReadOnlyAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, ModelAdmin):
    """Written by intake only: nobody adds, edits or deletes these rows in the console.

    One row per monitored incident or received email: big tables, so never counted whole."""

    ordering = ["-pk"]  # newest first, along the primary key (a page never sorts the whole table)


@admin.register(AlertRoute)
class AlertRouteAdmin(ModelAdmin):
    """Per-service alert routing: the group and severity mapping monitoring alerts open incidents with."""

    list_display = ["service", "assignment_group", "on_resolve", "mapping", "updated_at"]
    list_filter = ["on_resolve"]
    search_fields = ["service__name", "service__slug"]
    autocomplete_fields = ["service", "assignment_group"]
    list_select_related = ["service", "assignment_group"]
    readonly_fields = ["global_default"]
    fields = ["service", "assignment_group", "on_resolve", "severity_map", "global_default"]

    @admin.display(description="Severity mapping")
    def mapping(self, obj: AlertRoute) -> str:
        return ", ".join(f"{s}: I{v['impact']}/U{v['urgency']}" for s, v in obj.severity_map.items()) or "global"

    @admin.display(description="Global default (ALERT_SEVERITY_MAP)")
    def global_default(self, obj=None) -> str:
        return format_html("<code>{}</code>", json.dumps(conf.severity_map()))


@admin.register(IncidentAlert)
class IncidentAlertAdmin(ReadOnlyAdmin):
    """Alert state per monitored incident (occurrences, last seen, cleared)."""

    list_display = ["incident", "dedup_key", "source", "severity", "count", "last_seen", "cleared_at"]
    list_filter = ["severity"]
    search_fields = ["dedup_key", "incident__number", "source"]
    list_select_related = ["incident"]

    @admin.display(description="Occurrences", ordering="incident__alert_count")
    def count(self, obj: IncidentAlert) -> int:
        return obj.incident.alert_count

    @admin.display(description="Last seen", ordering="incident__alert_last_seen_at")
    def last_seen(self, obj: IncidentAlert):
        return obj.incident.alert_last_seen_at


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    """The inbound email log: every received message and what intake did with it."""

    list_display = ["received_at", "sender", "subject", "outcome", "reason", "incident", "channel"]
    list_filter = ["outcome", "channel"]
    search_fields = ["message_id", "sender", "subject", "incident__number"]
    list_select_related = ["incident"]
    date_hierarchy = "received_at"
