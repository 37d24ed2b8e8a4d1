"""The incident console: the list with queues and SLA countdowns, the add and change pages.

Nothing here changes an incident by itself: the add and change forms (`.forms`), the transition
buttons, the bulk actions and the comment form (`.actions`) all call `incidents.services`. Who
may do what is asked of `incidents.policy`, together with the Django model permissions the roles
carry.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList as DjangoChangeList
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timesince import timesince
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter, ChoicesDropdownFilter
from unfold.decorators import display

from incidents import policy, services
from incidents.choices import TERMINAL_STATES, Channel, Visibility
from incidents.major.admin.panel import major_incident_panel
from incidents.models import Comment, InboundMessage, Incident, IncidentAlert, SlaClock, TimelineEvent
from incidents.models.sla import LIVE_STAGES
from incidents.narration import TimelineNarrator, person
from incidents.sla import CALENDAR_PREFETCH, clock_view
from itsm.admin_large import LargeTableAdminMixin
from itsm.models import PriorityMatrixEntry

from .actions import IncidentActionsMixin
from .changelist import (
    ChoicesInFilter,
    IncidentChangeList,
    MonitoringFilter,
    OpenedRangeFilter,
    QueueFilter,
    SlaFilter,
)
from .display import (
    CLOCK_STAGE_COLOURS,
    OUTCOME_COLOURS,
    PRIORITY_COLOURS,
    SEVERITY_COLOURS,
    SLA_COLOURS,
    STATE_COLOURS,
    attachment_lines,
    badge,
    parse_number,
    pretty_details,
    short_duration,
    sla_summary,
)
from .extensions import panels as extension_panels
from .forms import CommentForm, IncidentAddForm, IncidentChangeForm

TIMELINE_LIMIT = 500  # newest events shown on the change page
RELATED_LIMIT = 20  # newest child incidents listed on the change page
INBOUND_LIMIT = 20  # newest inbound emails listed on the change page


@admin.register(Incident)
class IncidentAdmin(IncidentActionsMixin, LargeTableAdminMixin, ModelAdmin):
    """Incidents: list with queues and SLA countdowns, add/change through services, transitions, comments."""

    list_display = [
        "number",
        "title",
        "priority_badge",
        "state_badge",
        "service",
        "assignment_group",
        "assignee_name",
        "age",
        "time_to_breach",
        "alerts",
    ]
    list_display_links = ["number", "title"]
    list_select_related = ["service", "assignment_group", "assignee"]
    sortable_by = ["number", "age"]  # the indexed ones; other sorts would scan a million rows
    ordering = ["-id"]
    search_fields = ["title", "description"]
    search_help_text = "An incident number (INC0000123 or 123) opens it; other words search title and description."
    list_filter = [
        QueueFilter,
        ("state", ChoicesInFilter),
        ("priority", ChoicesInFilter),
        SlaFilter,
        ("service", AutocompleteSelectFilter),
        ("assignment_group", AutocompleteSelectFilter),
        ("assignee", AutocompleteSelectFilter),
        ("channel", ChoicesDropdownFilter),
        MonitoringFilter,
        ("opened_at", OpenedRangeFilter),
    ]
    list_filter_submit = True
    autocomplete_fields = ["service", "category", "caller", "assignment_group", "assignee", "parent"]
    actions = ["assign_to_me", "assign_to_group", "resolve_selected", "link_to_major_incident"]
    actions_list = ["my_work"]
    actions_detail = [
        *(f"transition_{name}" for name in services.TRANSITION_NAMES),
        "propose_major_incident",
        "declare_major_incident",
    ]
    warn_unsaved_form = True
    change_form_before_template = "admin/incidents/incident/change_form_before.html"
    change_form_outer_before_template = "admin/incidents/incident/change_form_notice.html"
    change_form_outer_after_template = "admin/incidents/incident/change_form_after.html"

    add_fieldsets = [
        (None, {"fields": ["title", "description"]}),
        ("Classification", {"fields": [("service", "category"), ("impact", "urgency"), "derived_priority"]}),
        ("Caller", {"fields": ["caller", ("caller_name", "caller_email"), "channel"]}),
        ("Assignment", {"fields": [("assignment_group", "assignee")]}),
    ]
    change_fieldsets = [
        (None, {"fields": [("number", "state_badge", "priority_label"), "title", "description"]}),
        ("Classification", {"fields": [("service", "category"), ("impact", "urgency"), "tags", "parent"]}),
        ("Caller", {"fields": ["caller", ("caller_name", "caller_email"), "channel"]}),
        ("Assignment", {"fields": [("assignment_group", "assignee"), ("reassignment_count", "reopen_count")]}),
        ("Cause", {"fields": ["caused_by_change", "caused_by_change_summary"], "classes": ["collapse"]}),
        (
            "Status",
            {
                "fields": [
                    ("hold_reason", "resolution_code"),
                    "resolution_notes",
                    ("opened_at", "responded_at"),
                    ("resolved_at", "closed_at"),
                    ("updated_at", "version"),
                    "created_by",
                ]
            },
        ),
    ]
    monitoring_fieldset = (
        "Monitoring",
        {"fields": [("alert_source", "dedup_key"), ("alert_count", "alert_first_seen_at", "alert_last_seen_at")]},
    )
    change_readonly_fields = [
        "number",
        "state_badge",
        "priority_label",
        "channel",
        "reassignment_count",
        "reopen_count",
        "hold_reason",
        "resolution_code",
        "resolution_notes",
        "opened_at",
        "responded_at",
        "resolved_at",
        "closed_at",
        "updated_at",
        "version",
        "created_by",
        "alert_source",
        "dedup_key",
        "alert_count",
        "alert_first_seen_at",
        "alert_last_seen_at",
        "tag_list",
    ]

    # --- permissions: Django model permissions AND incidents.policy --------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and bool(policy.can_create(request.user))

    def has_change_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or bool(policy.can_update(request.user, obj))

    def has_view_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return super().has_view_permission(request, obj) and bool(policy.can_view(request.user, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        return False  # incidents are cancelled, never deleted

    # --- list ------------------------------------------------------------------------------------
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[DjangoChangeList]:
        return IncidentChangeList

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Incident | None:
        """One load per request (the change view, its buttons and its context all ask for it)."""
        cache = request.__dict__.setdefault("_incident_objects", {})
        key = (str(object_id), from_field)
        if key not in cache:
            field = Incident._meta.pk if from_field is None else Incident._meta.get_field(from_field)
            # The alert row (reverse one-to-one), the parent and the major incident come in the same
            # query, for the Alert, Recurrences and Major incident panels of the change page.
            queryset = self.get_queryset(request).select_related(
                "assignment_group", "created_by", "alert", "parent", "major_incident"
            )
            try:
                cache[key] = queryset.get(**{field.name: field.to_python(object_id)})
            except (Incident.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """A number matches exactly (index); words match title or description, each word somewhere."""
        term = search_term.strip()
        if not term:
            return queryset, False
        parsed = parse_number(term)
        if parsed and parsed[1]:
            return queryset.filter(number=parsed[0]), False
        words = Q()
        for bit in smart_split(term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            words &= Q(title__icontains=bit) | Q(description__icontains=bit)
        if parsed:
            words |= Q(number=parsed[0])
        return queryset.filter(words), False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Typing an existing incident's number in the search box opens it.

        `?q=123&_text=1` searches titles and descriptions for "123" instead (linked from the
        message shown after a jump); paging (`p`) and popups never jump.
        """
        if "_text" in request.GET:
            params = request.GET.copy()
            del params["_text"]
            request.GET = params
        elif not ({"p", "_popup", "_to_field"} & set(request.GET)) and request.method == "GET":
            term = request.GET.get("q", "").strip()
            parsed = parse_number(term)
            found = Incident.objects.filter(number=parsed[0]).values_list("pk", flat=True).first() if parsed else None
            if found:
                if not parsed[1]:
                    instead = reverse("admin:incidents_incident_changelist") + "?" + urlencode({"q": term, "_text": 1})
                    messages.info(
                        request,
                        format_html(
                            'Opened {}, the number you typed. <a class="underline" href="{}">Search titles and '
                            "descriptions for “{}” instead</a>.",
                            parsed[0],
                            instead,
                            term,
                        ),
                    )
                return redirect("admin:incidents_incident_change", found)
        return super().changelist_view(request, extra_context)

    @display(description="Priority")
    def priority_badge(self, obj: Incident) -> str:
        return badge(PRIORITY_COLOURS.get(obj.priority, "default"), f"P{obj.priority}" if obj.priority else "—")

    @display(description="State")
    def state_badge(self, obj: Incident) -> str:
        return badge(STATE_COLOURS.get(obj.state, "default"), obj.get_state_display())

    @display(description="Priority")
    def priority_label(self, obj: Incident) -> str:
        text = obj.get_priority_display() if obj.priority else "—"
        return badge(PRIORITY_COLOURS.get(obj.priority, "default"), text)

    @display(description="Tags")
    def tag_list(self, obj: Incident) -> str:
        return ", ".join(obj.tags or []) or "—"

    @display(description="Assignee", empty_value="—")
    def assignee_name(self, obj: Incident) -> str:
        return person(obj.assignee) or "—"

    @display(description="Age", ordering="opened_at")
    def age(self, obj: Incident) -> str:
        return timesince(obj.opened_at, depth=1) if obj.opened_at else "—"

    @display(description="Time to breach")
    def time_to_breach(self, obj: Incident) -> str:
        clocks = getattr(obj, "live_clocks", None)
        if clocks is None:
            clocks = list(
                obj.sla_clocks.filter(stage__in=LIVE_STAGES, stopped_at__isnull=True).select_related("policy")
            )
        summary = sla_summary(clocks)
        if summary is None:
            return "—"
        return badge(SLA_COLOURS[summary.status], summary.text)

    @display(description="Alerts")
    def alerts(self, obj: Incident) -> str:
        if not obj.alert_count:
            return "—"
        seen = obj.alert_last_seen_at
        return f"×{obj.alert_count}" + (f" · {timesince(seen, depth=1)} ago" if seen else "")

    @display(description="Priority")
    def derived_priority(self, obj: Incident | None = None) -> str:
        cells = PriorityMatrixEntry.objects.order_by("impact", "urgency")
        matrix = ", ".join(f"{c.impact}×{c.urgency}→P{c.priority}" for c in cells)
        return f"Derived from impact × urgency when saved ({matrix})."

    # --- add and change forms ----------------------------------------------------------------
    def get_fieldsets(self, request: HttpRequest, obj: Incident | None = None):
        if obj is None:
            return self.add_fieldsets
        fieldsets = list(self.change_fieldsets)
        if obj.alert_count or obj.channel == Channel.MONITORING or obj.dedup_key:
            fieldsets.append(self.monitoring_fieldset)
        if not self.has_change_permission(request, obj):  # read-only page: tags as words, not JSON
            fieldsets = [
                (name, {**opts, "fields": [("tag_list" if f == "tags" else f) for f in opts["fields"]]})
                for name, opts in fieldsets
            ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None):
        if obj is None:
            return ["derived_priority"]
        return self.change_readonly_fields

    def get_form(self, request: HttpRequest, obj: Incident | None = None, change: bool = False, **kwargs):
        kwargs["form"] = IncidentChangeForm if obj is not None else IncidentAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Incident, form, change: bool) -> None:
        """Nothing to do: the form's last validation step called the service (ServiceBackedForm)."""

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """No related rows are edited on this page (comments go through their own form)."""

    def response_add(self, request: HttpRequest, obj: Incident, post_url_continue=None) -> HttpResponse:
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"{obj.number} logged as P{obj.priority}.", messages.SUCCESS)
        return redirect("admin:incidents_incident_change", obj.pk)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        incident = self.get_object(request, object_id)
        if incident is not None:
            extra_context = {**(extra_context or {}), **self._detail_context(request, incident)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _detail_context(self, request: HttpRequest, incident: Incident) -> dict:
        """Comments, SLA clocks, the timeline and the comment form for the change page."""
        now = timezone.now()
        clocks = (
            SlaClock.objects.filter(incident=incident)
            .select_related("policy")
            .prefetch_related(CALENDAR_PREFETCH)
            .order_by("id")
        )
        clock_rows = []
        for clock in clocks:
            view = clock_view(clock, now)
            clock_rows.append(
                {
                    **view,
                    "kind_label": clock.get_kind_display(),
                    "stage_label": clock.get_stage_display(),
                    "stage_colour": CLOCK_STAGE_COLOURS.get(clock.stage, "default"),
                    "elapsed": short_duration(view["elapsed_seconds"]),
                    "remaining": short_duration(view["remaining_seconds"]),
                    "policy_url": reverse("admin:itsm_slapolicy_change", args=[clock.policy_id]),
                }
            )
        events = list(
            TimelineEvent.objects.filter(incident=incident).select_related("actor").order_by("-id")[:TIMELINE_LIMIT]
        )
        narrator = TimelineNarrator(events)
        timeline = [{"event": e, "actor": person(e.actor) or "system", "text": narrator.sentence(e)} for e in events]
        comments = [
            {
                "comment": c,
                "author": person(c.author) or c.author_email or "system",
                "public": c.visibility == Visibility.PUBLIC,
            }
            for c in Comment.objects.filter(incident=incident).select_related("author").order_by("id")
        ]
        decision = policy.can_change(request.user, incident)
        return {
            **self._intake_context(request, incident),
            "major_incident_panel": major_incident_panel(incident),
            "extension_panels": extension_panels(request, incident),
            "show_save_and_add_another": False,
            "incident": incident,
            "sla_clocks": clock_rows,
            "timeline": timeline,
            "timeline_truncated": len(events) == TIMELINE_LIMIT,
            "comments": comments,
            "comment_form": CommentForm() if decision else None,
            "comment_url": reverse("admin:incidents_incident_comment", args=[incident.pk]),
            "change_refusal": "" if decision else decision.reason,
            "is_terminal": incident.state in TERMINAL_STATES,
        }

    def _intake_context(self, request: HttpRequest, incident: Incident) -> dict:
        """The Alert, Recurrences and Inbound email panels of the change page.

        The alert row and the parent were read with the incident (`get_object`); the children and
        the inbound messages cost one query each, capped. A panel with nothing to show is None.
        """
        alert: IncidentAlert | None = getattr(incident, "alert", None)
        alert_panel = None
        if alert is not None:
            details, cut = pretty_details(alert.details)
            alert_panel = {
                "alert": alert,
                "count": incident.alert_count,
                "first_seen": incident.alert_first_seen_at,
                "last_seen": incident.alert_last_seen_at,
                "severity_label": alert.get_severity_display(),
                "severity_colour": SEVERITY_COLOURS.get(alert.severity, "default"),
                "details": details,
                "details_cut": cut,
                "record_url": (
                    reverse("admin:incidents_incidentalert_change", args=[alert.pk])
                    if request.user.has_perm("incidents.view_incidentalert")
                    else ""
                ),
            }

        def related(other: Incident) -> dict:
            return {
                "incident": other,
                "url": reverse("admin:incidents_incident_change", args=[other.pk]),
                "state_colour": STATE_COLOURS.get(other.state, "default"),
            }

        children = list(
            Incident.objects.filter(parent=incident)
            .only("id", "number", "title", "state", "opened_at", "parent_id")
            .order_by("-id")[: RELATED_LIMIT + 1]
        )
        recurrences = None
        if incident.parent_id or children:
            recurrences = {
                "title": "Recurrences" if alert is not None else "Related incidents",
                "parent": related(incident.parent) if incident.parent_id else None,
                "children": [related(child) for child in children[:RELATED_LIMIT]],
                "children_more_url": (
                    reverse("admin:incidents_incident_changelist") + "?" + urlencode({"parent__id__exact": incident.pk})
                    if len(children) > RELATED_LIMIT
                    else ""
                ),
            }

        rows = list(InboundMessage.objects.filter(incident=incident).order_by("-id")[: INBOUND_LIMIT + 1])
        may_view_mail = bool(rows) and request.user.has_perm("incidents.view_inboundmessage")
        inbound = [
            {
                "message": row,
                "attachments": attachment_lines(row.attachments),
                "outcome_colour": OUTCOME_COLOURS.get(row.outcome, "default"),
                "url": reverse("admin:incidents_inboundmessage_change", args=[row.pk]) if may_view_mail else "",
            }
            for row in rows[:INBOUND_LIMIT]
        ]
        return {
            "alert_panel": alert_panel,
            "recurrences": recurrences,
            "inbound_messages": inbound,
            "inbound_truncated": len(rows) > INBOUND_LIMIT,
        }
