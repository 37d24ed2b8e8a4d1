"""The agents' console for incidents (Django admin themed with Unfold).

Nothing here changes an incident by itself: the add and change forms, the transition buttons,
the bulk actions and the comment form all call `incidents.services`, and their refusals
(ValidationError, PermissionDenied, InvalidTransition, StaleRecord) are shown as form errors or
messages with the same sentences the API returns. Who may do what is asked of
`incidents.policy` (through the services and `has_*_permission`), together with the Django model
permissions the roles carry.

Built for a million incidents: the changelist never counts the whole table (see
`LargeTablePaginator`), orders by `-id`, joins its foreign keys and prefetches the live SLA
clocks with their calendars, so a page costs the same number of queries whatever its length.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList as DjangoChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import connections
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timesince import timesince
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesCheckboxFilter,
    ChoicesDropdownFilter,
    RadioFilter,
    RangeDateTimeFilter,
)
from unfold.decorators import action, display
from unfold.utils import parse_datetime_str
from unfold.views import ChangeList as UnfoldChangeList
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from incidents import policy, services
from incidents.choices import (
    TERMINAL_STATES,
    Channel,
    HoldReason,
    IncidentState,
    ResolutionCode,
    TimelineType,
    Transition,
    Visibility,
)
from incidents.models import Comment, InboundMessage, Incident, IncidentAlert, IncidentSettings, SlaClock, TimelineEvent
from incidents.models.alerts import AlertSeverity, InboundOutcome
from incidents.models.sla import LIVE_STAGES, ClockStage
from incidents.sla import CALENDAR_PREFETCH, clock_view, current_elapsed
from itsm import roles
from itsm.choices import Impact, Priority, SlaKind, Urgency
from itsm.exceptions import InvalidTransition, StaleRecord
from itsm.models import AssignmentGroup, Category, PriorityMatrixEntry, Service, SlaPolicy

User = get_user_model()

SERVICE_ERRORS = (ValidationError, PermissionDenied, InvalidTransition, StaleRecord)
BULK_LIMIT = 500  # a bulk action runs one service call per incident; more than this is a mistake
COUNT_CAP = 1_000  # the changelist counts filtered rows up to this many, never more (40 pages of 25)
TIMELINE_LIMIT = 500  # newest events shown on the change page
ALERT_DETAILS_LIMIT = 20_000  # characters of an alert's pretty-printed details shown on the change page
RELATED_LIMIT = 20  # newest child incidents listed on the change page
INBOUND_LIMIT = 20  # newest inbound emails listed on the change page

STATE_COLOURS = {
    IncidentState.NEW: "info",
    IncidentState.IN_PROGRESS: "primary",
    IncidentState.ON_HOLD: "warning",
    IncidentState.RESOLVED: "success",
    IncidentState.CLOSED: "default",
    IncidentState.CANCELLED: "default",
}
PRIORITY_COLOURS = {1: "danger", 2: "warning", 3: "primary", 4: "info", 5: "default"}
SLA_COLOURS = {"ok": "success", "warning": "warning", "breached": "danger", "paused": "info"}
CLOCK_STAGE_COLOURS = {
    ClockStage.RUNNING: "primary",
    ClockStage.PAUSED: "info",
    ClockStage.MET: "success",
    ClockStage.BREACHED: "danger",
    ClockStage.CANCELLED: "default",
}
SEVERITY_COLOURS = {
    AlertSeverity.CRITICAL: "danger",
    AlertSeverity.ERROR: "danger",
    AlertSeverity.WARNING: "warning",
    AlertSeverity.INFO: "info",
}
OUTCOME_COLOURS = {
    InboundOutcome.CREATED: "primary",
    InboundOutcome.COMMENTED: "info",
    InboundOutcome.IGNORED: "default",
}
TRANSITION_ICONS = {
    "start": "play_arrow",
    "hold": "pause",
    "resume": "play_arrow",
    "resolve": "task_alt",
    "reopen": "undo",
    "close": "lock",
    "cancel": "block",
}


# --- small helpers ------------------------------------------------------------------------------
NUMBER_RE = re.compile(r"^\s*(INC)?\s*0*(\d{1,12})\s*$", re.IGNORECASE)


def parse_number(term: str) -> tuple[str, bool] | None:
    """'INC0000123', 'inc123' or '123' -> ('INC0000123', typed_with_prefix); None for anything else."""
    match = NUMBER_RE.match(term or "")
    if not match or int(match.group(2)) == 0:
        return None
    return f"INC{int(match.group(2)):07d}", bool(match.group(1))


def short_duration(delta: timedelta | float) -> str:
    """A duration as an agent reads it: '3 d 4 h', '2 h 5 min', '12 min', 'under a minute'."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return "under a minute"


def error_text(exc: Exception) -> str:
    """The sentence a service refusal carries (the API's `detail`)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(
                f"{field.replace('_', ' ').capitalize()}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    if isinstance(exc, InvalidTransition | StaleRecord):
        return exc.detail
    return str(exc) or "You may not do that."


def add_service_errors(form: forms.BaseForm, exc: Exception) -> None:
    """Put a service refusal on the form: field errors where the field is on the form, the rest on top."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            target = field if field in form.fields and not form.fields[field].widget.is_hidden else None
            for msg in msgs:
                form.add_error(target, msg if target else f"{field.replace('_', ' ').capitalize()}: {msg}")
        return
    text = error_text(exc)
    if isinstance(exc, StaleRecord):
        text += " Reload the page to see what changed, then apply your change again."
    form.add_error(None, text)


@functools.lru_cache(maxsize=32)
def _badge_shell(colour: str) -> tuple[str, str]:
    """Unfold's label markup for a colour, split around its text (rendered once per colour)."""
    html = render_to_string("unfold/helpers/label.html", {"type": colour, "text": "\x00"})
    before, after = html.split("\x00")
    return before, after


def badge(colour: str, text: str) -> SafeString:
    """An Unfold label (badge) as HTML.

    Unfold's `display(label=...)` renders a template per cell, a quarter of a 50-row page's
    time; a badge's markup depends only on its colour, so it is rendered once and reused.
    """
    before, after = _badge_shell(colour)
    return mark_safe(before + conditional_escape(text) + after)  # the text is escaped


def person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def pretty_details(details: Any, limit: int | None = None) -> tuple[str, int]:
    """An alert's details as indented JSON, cut at `limit` characters (default ALERT_DETAILS_LIMIT).

    Returns (text, characters left out). The page escapes the text; ingestion already caps the
    stored size, this keeps the page readable.
    """
    limit = ALERT_DETAILS_LIMIT if limit is None else limit
    if details in (None, "", {}, []):
        return "", 0
    text = json.dumps(details, indent=2, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def attachment_lines(attachments: Any) -> list[str]:
    """An inbound email's attachments (`[{filename, content_type, size}]`) as 'name (type, size)'."""
    lines = []
    for item in attachments if isinstance(attachments, list) else []:
        if not isinstance(item, dict):
            lines.append(str(item))
            continue
        extras = [str(item["content_type"])] if item.get("content_type") else []
        if isinstance(item.get("size"), int) and not isinstance(item["size"], bool):
            extras.append(filesizeformat(item["size"]))
        name = str(item.get("filename") or "(no name)")
        lines.append(f"{name} ({', '.join(extras)})" if extras else name)
    return lines


# --- paginator: no COUNT(*) over a million rows -----------------------------------------------------
def estimated_rows(model, using: str = "default") -> int | None:
    """PostgreSQL's planner estimate of a table's rows (pg_class.reltuples); None elsewhere or unknown."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] < 0:
        return None  # never analysed
    return int(row[0])


class LargeTablePaginator(Paginator):
    """Page numbers without counting the table.

    * Unfiltered on PostgreSQL: the planner's estimate (`pg_class.reltuples`, no scan) labels the
      list "about N"; below COUNT_CAP rows an exact, cheap count is used instead.
    * Filtered (or elsewhere): `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, which stops
      after cap + 1 matching rows, so the cost is bounded by the cap, never by the table.

    Either way pages are navigable up to the cap (OFFSET never exceeds it); narrow the filters to
    go further. `count_label` says which kind of number is shown.
    """

    template_name = "admin/incidents/pagination.html"
    cap = COUNT_CAP

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.estimated_total: int | None = None
        self.capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if not queryset.query.where:
            estimate = estimated_rows(queryset.model, queryset.db)
            if estimate is not None and estimate > self.cap:
                self.estimated_total = estimate
                return self.cap
        counted = queryset.order_by()[: self.cap + 1].count()
        if counted > self.cap:
            self.capped = True
            return self.cap
        return counted

    @property
    def count_label(self) -> str:
        count = self.count
        noun = self.object_list.model._meta.verbose_name_plural if isinstance(self.object_list, QuerySet) else "rows"
        if self.estimated_total is not None:
            return f"about {self.estimated_total:,} {noun}"
        if self.capped:
            return f"more than {self.cap:,} {noun} (narrow the filters to see further)"
        if count == 1 and isinstance(self.object_list, QuerySet):
            return f"1 {self.object_list.model._meta.verbose_name}"
        return f"{count:,} {noun}"


class LargeTableChangeList(UnfoldChangeList):
    """The changelist, fetching the page before counting.

    The requested page is read with one row more than fits. A short page tells the total by
    itself, so no count runs at all (a rare search word scans the table once, not twice); a full
    page is counted by LargeTablePaginator and shown from the rows already read. The header's
    "N results (Show all)" is left to the paginator's label.
    """

    def get_results(self, request: HttpRequest) -> None:
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        rows: list | None = None
        if not self.show_all and self.page_num >= 1:
            offset = (self.page_num - 1) * self.list_per_page
            rows = list(self.queryset[offset : offset + self.list_per_page + 1])
            if len(rows) <= self.list_per_page and (rows or self.page_num == 1):
                paginator.__dict__["count"] = offset + len(rows)  # the total is known: no count query
        result_count = paginator.count
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page
        if self.show_all and can_show_all:
            result_list = self.queryset._clone()
        elif rows is not None and (multi_page or self.page_num == 1):
            try:
                paginator.validate_number(self.page_num)
            except InvalidPage as exc:
                raise IncorrectLookupParameters from exc
            result_list = rows[: self.list_per_page]
        elif not multi_page:
            result_list = self.queryset._clone()
        else:
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage as exc:
                raise IncorrectLookupParameters from exc
        self.result_count = result_count
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.show_admin_actions = True
        self.full_result_count = result_count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator


class IncidentChangeList(LargeTableChangeList):
    """The incident list: each row's live SLA clocks come in with the page (constant queries)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters=None) -> QuerySet:
        return super().get_queryset(request, exclude_parameters).prefetch_related(live_clocks_prefetch())


class LargeTableAdminMixin:
    """What every console list over a big table sets (see LargeTablePaginator)."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Unfold renders each cell through templates (~1.2 ms of CPU per 10-column row): 25 rows keep
    # a page near 65 ms of CPU; 50 would be ~95 ms.
    list_per_page = 25
    list_max_show_all = 200

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[DjangoChangeList]:
        return LargeTableChangeList


# --- SLA summary for a row ------------------------------------------------------------------------
@dataclass(frozen=True)
class SlaSummary:
    """What the 'Time to breach' column shows: a status (ok/warning/breached/paused) and a phrase."""

    status: str
    text: str


def sla_summary(clocks: Iterable[SlaClock], now: datetime | None = None) -> SlaSummary | None:
    """The most urgent of an incident's live clocks.

    Breached beats running beats paused; a running clock shows its `due_at` countdown, coloured
    `warning` once its elapsed business time reaches the policy's first warning threshold.
    """
    now = now or timezone.now()
    live = [c for c in clocks if c.stopped_at is None and c.stage in LIVE_STAGES]
    breached = [c for c in live if c.stage == ClockStage.BREACHED]
    if breached:
        first = min(c.breached_at or now for c in breached)
        return SlaSummary("breached", f"Breached {short_duration(now - first)} ago")
    running = [c for c in live if c.stage == ClockStage.RUNNING and c.due_at is not None]
    if running:
        clock = min(running, key=lambda c: c.due_at)
        left = clock.due_at - now
        if left <= timedelta(0):
            return SlaSummary("breached", f"Overdue by {short_duration(-left)}")
        thresholds = clock.policy.warning_thresholds or []
        percent = current_elapsed(clock, now) / timedelta(seconds=clock.target_seconds) * 100
        status = "warning" if thresholds and percent >= min(thresholds) else "ok"
        return SlaSummary(status, f"{short_duration(left)} left")
    paused = [c for c in live if c.stage == ClockStage.PAUSED]
    if paused:
        remaining = min(max(c.target_seconds - c.elapsed_seconds, 0) for c in paused)
        return SlaSummary("paused", f"Paused, {short_duration(remaining)} left")
    return None


def live_clocks_prefetch() -> Prefetch:
    """Live clocks of each row with policy and calendar: a constant 4 queries for a whole page."""
    return Prefetch(
        "sla_clocks",
        queryset=SlaClock.objects.filter(stage__in=LIVE_STAGES, stopped_at__isnull=True)
        .select_related("policy")
        .prefetch_related(CALENDAR_PREFETCH)
        .order_by("id"),
        to_attr="live_clocks",
    )


# --- timeline sentences ---------------------------------------------------------------------------
FIELD_MODELS = {
    "service": Service,
    "category": Category,
    "assignment_group": AssignmentGroup,
    "caller": User,
    "assignee": User,
    "parent": Incident,
}
FIELD_CHOICES = {"impact": Impact, "urgency": Urgency, "priority": Priority}


class TimelineNarrator:
    """Turns timeline events into sentences, resolving every id they mention in one query per model."""

    def __init__(self, events: list[TimelineEvent]) -> None:
        wanted: dict[type, set] = defaultdict(set)
        for event in events:
            data = event.data or {}
            if event.type == TimelineType.FIELD_CHANGED and data.get("field") in FIELD_MODELS:
                wanted[FIELD_MODELS[data["field"]]].update(v for v in (data.get("old"), data.get("new")) if v)
            elif event.type == TimelineType.ASSIGNED:
                wanted[AssignmentGroup].update(v for v in (data.get("old_group"), data.get("group")) if v)
                wanted[User].update(v for v in (data.get("old_assignee"), data.get("assignee")) if v)
            elif event.type in (TimelineType.WATCHER_ADDED, TimelineType.WATCHER_REMOVED) and data.get("user"):
                wanted[User].add(data["user"])
            elif event.type in (TimelineType.LINKED, TimelineType.UNLINKED) and isinstance(data.get("target"), int):
                if data.get("kind") in ("parent", "child"):
                    wanted[Incident].add(data["target"])
            elif event.type == TimelineType.SLA and data.get("policy"):
                wanted[SlaPolicy].add(data["policy"])
        self.names: dict[type, dict[Any, str]] = {}
        for model, ids in wanted.items():
            ids = {i for i in ids if isinstance(i, int)}
            if model is Incident:
                rows = Incident.objects.filter(pk__in=ids).values_list("pk", "number")
                self.names[model] = dict(rows)
            elif model is User:
                self.names[model] = {u.pk: person(u) for u in User.objects.filter(pk__in=ids)}
            else:
                self.names[model] = {o.pk: str(o) for o in model.objects.filter(pk__in=ids)}

    def _name(self, model: type, pk) -> str:
        if pk in (None, ""):
            return "nobody" if model is User else "none"
        return self.names.get(model, {}).get(pk, f"#{pk}")

    def _value(self, field: str, value) -> str:
        if field in FIELD_MODELS:
            return self._name(FIELD_MODELS[field], value)
        if field in FIELD_CHOICES and value is not None:
            try:
                return str(FIELD_CHOICES[field](value).label)
            except ValueError:
                return str(value)
        if field == "tags":
            return ", ".join(value or []) or "none"
        if value in (None, ""):
            return "empty"
        text = str(value)
        return f"“{text[:80]}…”" if len(text) > 80 else f"“{text}”"

    def sentence(self, event: TimelineEvent) -> str:
        """One human sentence for one event."""
        data = event.data or {}
        kind = event.type
        if kind == TimelineType.CREATED:
            priority = FIELD_CHOICES["priority"](data["priority"]).label if data.get("priority") else "?"
            return f"Opened {data.get('number', '')} via {data.get('channel', 'unknown channel')} as {priority}."
        if kind == TimelineType.FIELD_CHANGED:
            field = data.get("field", "?")
            label = field.replace("_", " ").capitalize()
            if field == "description":
                return "Description changed."
            return (
                f"{label} changed from {self._value(field, data.get('old'))} to {self._value(field, data.get('new'))}."
            )
        if kind == TimelineType.ASSIGNED:
            new = f"{self._name(AssignmentGroup, data.get('group'))} / {self._name(User, data.get('assignee'))}"
            if data.get("old_group") is None and data.get("old_assignee") is None:
                return f"Assigned to {new}."
            old = f"{self._name(AssignmentGroup, data.get('old_group'))} / {self._name(User, data.get('old_assignee'))}"
            return f"Reassigned from {old} to {new}."
        if kind == TimelineType.TRANSITION:
            name = data.get("name", "")
            label = Transition(name).label if name in Transition.values else name
            source = IncidentState(data["from"]).label if data.get("from") in IncidentState.values else data.get("from")
            target = IncidentState(data["to"]).label if data.get("to") in IncidentState.values else data.get("to")
            return f"{label}: {source} → {target}."
        if kind == TimelineType.COMMENTED:
            if data.get("visibility") == Visibility.PUBLIC:
                return "Added a public comment."
            return "Added an internal work note."
        if kind == TimelineType.WATCHER_ADDED:
            return f"{self._name(User, data.get('user'))} now watches this incident."
        if kind == TimelineType.WATCHER_REMOVED:
            return f"{self._name(User, data.get('user'))} stopped watching this incident."
        if kind in (TimelineType.LINKED, TimelineType.UNLINKED):
            verb = "Linked to" if kind == TimelineType.LINKED else "Unlinked from"
            target = data.get("target")
            if data.get("kind") in ("parent", "child"):
                target = self._name(Incident, target)
            return f"{verb} {data.get('kind', 'record')} {target}."
        if kind == TimelineType.SLA:
            clock = SlaKind(data["kind"]).label if data.get("kind") in SlaKind.values else "SLA"
            policy_name = self._name(SlaPolicy, data.get("policy"))
            event = data.get("event", "")
            if event == "warning":
                return f"{clock} SLA at {data.get('percent')}% of its target ({policy_name})."
            if event == "breached":
                return f"{clock} SLA breached ({policy_name})."
            return f"{clock} SLA {event} ({policy_name})."
        if kind == TimelineType.ALERT:
            return f"Alert received again: {data.get('count')} occurrences, last seen {data.get('last_seen')}."
        if kind == TimelineType.NOTIFIED:
            return f"Notified {data.get('recipient')} by {data.get('channel')} ({data.get('event')})."
        if kind == TimelineType.WORKAROUND_APPLIED:
            return f"Workaround of known error #{data.get('known_error')} applied."
        return f"{event.get_type_display()}: {data}"


# --- list filters -------------------------------------------------------------------------------
class QueueFilter(RadioFilter):
    """Whose work: My work (open, mine or my groups' unassigned), assigned to me, my groups, unassigned."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("my_work", "My work"),
            ("mine", "Assigned to me"),
            ("my_groups", "My groups"),
            ("unassigned", "Unassigned"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        user = request.user
        if value == "my_work":
            return queryset.for_agent(user)
        if value == "mine":
            return queryset.filter(assignee=user)
        if value == "my_groups":
            return queryset.in_groups_of(user)
        if value == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset


class SlaFilter(RadioFilter):
    """Incidents by their SLA clocks.

    A correlated EXISTS, so PostgreSQL can merge the clock index with the incident index in id
    order and stop after one page (or after the paginator's cap); an `id IN (...)` made it hash
    every matching clock first.
    """

    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("breached", "Breached"), ("due_1h", "Breaching within 1 hour"), ("paused", "Paused")]

    def queryset(self, request, queryset):
        now = timezone.now()
        clocks = SlaClock.objects.filter(incident=OuterRef("pk"))
        value = self.value()
        if value == "breached":
            clocks = clocks.filter(
                Q(stage=ClockStage.BREACHED) | Q(stage=ClockStage.RUNNING, stopped_at__isnull=True, due_at__lte=now)
            )
        elif value == "due_1h":
            clocks = clocks.filter(
                stage=ClockStage.RUNNING, stopped_at__isnull=True, due_at__gt=now, due_at__lte=now + timedelta(hours=1)
            )
        elif value == "paused":
            clocks = clocks.filter(stage=ClockStage.PAUSED, stopped_at__isnull=True)
        else:
            return queryset
        return queryset.filter(Exists(clocks))


class MonitoringFilter(RadioFilter):
    """Opened by monitoring, or carrying alert occurrences."""

    title = "from monitoring"
    parameter_name = "monitoring"

    def lookups(self, request, model_admin):
        return [("yes", "From monitoring"), ("no", "Not from monitoring")]

    def queryset(self, request, queryset):
        from_monitoring = Q(channel=Channel.MONITORING) | Q(alert_count__gt=0)
        if self.value() == "yes":
            return queryset.filter(from_monitoring)
        if self.value() == "no":
            return queryset.exclude(from_monitoring)
        return queryset


class ChoicesInFilter(ChoicesCheckboxFilter):
    """Unfold's checkbox filter for a choices field, as one `IN (...)`.

    Django ORs one equality per ticked value; PostgreSQL 15 cannot use an index for
    `state = 'new' OR state = 'in_progress' OR ...` (88 ms on a million rows) but can for
    `state IN (...)` (0.3 ms).
    """

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        values = [v for v in (self.lookup_val or []) if v not in ("", None)]
        if not values:
            return queryset
        return queryset.filter(**{f"{self.field_path}__in": values})


class OpenedRangeFilter(RangeDateTimeFilter):
    """Unfold's date-time range, read in the current time zone; a date without a time means the whole day."""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        bounds = {}
        for side, lookup, default_time in (("from", "gte", "00:00:00"), ("to", "lte", "23:59:59")):
            day = self.used_parameters.get(f"{self.parameter_name}_{side}_0")
            if not day:
                continue
            moment = parse_datetime_str(
                f"{day} {self.used_parameters.get(f'{self.parameter_name}_{side}_1') or default_time}"
            )
            if moment is None:
                return None  # unreadable: the list stays unfiltered rather than failing
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            bounds[f"{self.parameter_name}__{lookup}"] = moment
        return queryset.filter(**bounds)


# --- forms ----------------------------------------------------------------------------------------
class TagsField(forms.CharField):
    """Tags typed as 'vpn, emea' and stored as ['vpn', 'emea']."""

    widget = UnfoldAdminTextInputWidget

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        tags: list[str] = []
        for part in (value or "").split(","):
            tag = part.strip()
            if tag and tag not in tags:
                tags.append(tag)
        return tags

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class ServiceBackedForm(forms.ModelForm):
    """A ModelForm whose last validation step is the service call itself.

    After Django's own validation (`_post_clean`), `apply()` calls the service inside the
    admin's transaction; its refusal becomes form errors, so the page re-renders with what the
    agent typed. The admin's `save_model` has nothing left to do.
    """

    actor = None  # set per request by IncidentAdmin.get_form

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            self.instance = self.apply()
        except SERVICE_ERRORS as exc:
            add_service_errors(self, exc)

    def apply(self) -> Incident:
        """Call the service; return the incident it saved."""
        raise NotImplementedError


class IncidentAddForm(ServiceBackedForm):
    """Log an incident through `services.open_incident` (priority is derived, never typed)."""

    class Meta:
        model = Incident
        fields = [
            "title",
            "description",
            "service",
            "category",
            "impact",
            "urgency",
            "caller",
            "caller_name",
            "caller_email",
            "channel",
            "assignment_group",
            "assignee",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].initial = Channel.PHONE

    def apply(self) -> Incident:
        data = {name: self.cleaned_data.get(name) for name in self._meta.fields if name in self.cleaned_data}
        title = data.pop("title")
        impact = data.pop("impact")
        urgency = data.pop("urgency")
        fields = {k: v for k, v in data.items() if v not in (None, "")}
        return services.open_incident(actor=self.actor, title=title, impact=impact, urgency=urgency, **fields)


# The change form edits exactly what update_incident() accepts.
UPDATE_FIELDS = services.EDITABLE_FIELDS


class IncidentChangeForm(ServiceBackedForm):
    """Change fields through `services.update_incident`, with the version the page was loaded with.

    `loaded_version` travels in a hidden input; if another agent saved meanwhile, the service
    answers StaleRecord and nothing is overwritten.
    """

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    tags = TagsField(required=False, help_text="Comma-separated, e.g. vpn, emea.")

    class Meta:
        model = Incident
        fields = UPDATE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version
        if "parent" in self.fields and self.instance.pk:
            self.fields["parent"].queryset = Incident.objects.exclude(pk=self.instance.pk)

    def apply(self) -> Incident:
        changes = {name: self.cleaned_data[name] for name in self.changed_data if name in UPDATE_FIELDS}
        return services.update_incident(
            self.instance.pk,
            actor=self.actor,
            changes=changes,
            expected_version=self.cleaned_data.get("loaded_version"),
        )


def _select(choices) -> forms.ChoiceField:
    return forms.ChoiceField(choices=[("", "---------"), *choices], widget=UnfoldAdminSelectWidget)


def _text(label: str) -> forms.CharField:
    return forms.CharField(label=label, widget=UnfoldAdminTextareaWidget(attrs={"rows": 4}))


class TransitionForm(forms.Form):
    """The fields one transition needs (`services.transition_requirements`), plus the loaded version."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, name: str, incident: Incident, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.name = name
        self.fields["version"].initial = incident.version
        for field, required in services.transition_requirements(name).items():
            self.fields[field] = self._field_for(field, incident)
            self.fields[field].required = required

    @staticmethod
    def _field_for(field: str, incident: Incident) -> forms.Field:
        if field == "hold_reason":
            return _select(HoldReason.choices)
        if field == "resolution_code":
            return _select(ResolutionCode.choices)
        if field == "resolution_notes":
            return _text("Resolution notes")
        if field == "reason":
            return _text("Reason")
        if field == "assignment_group":
            return forms.ModelChoiceField(
                AssignmentGroup.objects.filter(active=True).order_by("name"),
                initial=incident.assignment_group_id,
                widget=UnfoldAdminSelectWidget,
                help_text="Needed to start work; the incident's group when empty.",
            )
        if field == "assignee":
            return forms.ModelChoiceField(
                User.objects.filter(is_active=True, assignment_groups__active=True).distinct().order_by("username"),
                initial=incident.assignee_id,
                widget=UnfoldAdminSelectWidget,
                help_text="Defaults to you when you are a member of the group.",
            )
        raise KeyError(field)  # a new transition field: add its widget here

    def payload(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version" and v not in (None, "")}


class CommentForm(forms.Form):
    """A public comment (the caller sees it) or an internal work note."""

    body = forms.CharField(label="Comment", widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}))
    visibility = forms.ChoiceField(
        choices=Visibility.choices, initial=Visibility.INTERNAL, widget=UnfoldAdminSelectWidget
    )


class AssignGroupForm(forms.Form):
    group = forms.ModelChoiceField(
        AssignmentGroup.objects.filter(active=True).order_by("name"),
        label="Assignment group",
        widget=UnfoldAdminSelectWidget,
        help_text="Assignees who are not members of the new group are unassigned.",
    )


class BulkResolveForm(forms.Form):
    resolution_code = _select(ResolutionCode.choices)
    resolution_notes = _text("Resolution notes")


# --- the incident console --------------------------------------------------------------------------
@admin.register(Incident)
class IncidentAdmin(LargeTableAdminMixin, ModelAdmin):
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
    actions = ["assign_to_me", "assign_to_group", "resolve_selected"]
    actions_list = ["my_work"]
    actions_detail = [f"transition_{name}" for name in services.TRANSITION_NAMES]
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
        if obj is None:
            return True
        if obj.state in TERMINAL_STATES:
            return False  # services.update_incident refuses closed and cancelled incidents
        return bool(policy.can_change(request.user, obj))

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
            # The alert row (reverse one-to-one) and the parent come in the same query, for the Alert
            # and Recurrences panels of the change page.
            queryset = self.get_queryset(request).select_related("assignment_group", "created_by", "alert", "parent")
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

    # --- URLs of the console's own views -------------------------------------------------------
    def get_urls(self):
        own = [
            path(
                "<path:object_id>/comment/",
                self.admin_site.admin_view(self.comment_view),
                name="incidents_incident_comment",
            ),
        ]
        return own + super().get_urls()

    def comment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST a comment through services.add_comment, then back to the incident."""
        incident = get_object_or_404(Incident, pk=object_id)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk]) + "#comments"
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = CommentForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Write a comment and choose who may see it.")
            return HttpResponseRedirect(change_url)
        try:
            services.add_comment(
                incident.pk,
                actor=request.user,
                body=form.cleaned_data["body"],
                visibility=form.cleaned_data["visibility"],
            )
        except SERVICE_ERRORS as exc:
            messages.error(request, error_text(exc))
        else:
            kind = "Public comment" if form.cleaned_data["visibility"] == Visibility.PUBLIC else "Work note"
            messages.success(request, f"{kind} added to {incident.number}.")
        return HttpResponseRedirect(change_url)

    # --- "My work" ----------------------------------------------------------------------------
    @action(description="My work", url_path="my-work", icon="assignment_ind")
    def my_work(self, request: HttpRequest) -> HttpResponse:
        """The agent's saved view: open incidents assigned to them and their groups' unassigned ones."""
        return HttpResponseRedirect(reverse("admin:incidents_incident_changelist") + "?queue=my_work")

    # --- transitions (buttons on the change page) ---------------------------------------------
    def get_actions_detail(self, request: HttpRequest, object_id) -> list:
        """Only the transitions `services.available_transitions` allows this user now."""
        candidates = super().get_actions_detail(request, object_id)
        incident = self.get_object(request, object_id)
        allowed = set(services.available_transitions(incident, request.user)) if incident else set()
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_transition_"
        return [a for a in candidates if a.action_name.removeprefix(prefix) in allowed]

    def _transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """GET: a small form asking for the transition's fields; POST: services.run_transition."""
        incident = get_object_or_404(Incident.objects.select_related("assignment_group", "assignee"), pk=object_id)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
        if name not in services.available_transitions(incident, request.user):
            decision = policy.can_transition(request.user, incident, name)
            if decision:
                detail = InvalidTransition(
                    incident.number, name, incident.state, services.available_transitions(incident, request.user)
                ).detail
            else:
                detail = decision.reason
            messages.error(request, detail)
            return HttpResponseRedirect(change_url)
        form = TransitionForm(name, incident, data=request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                incident = services.run_transition(
                    incident.pk,
                    name,
                    actor=request.user,
                    payload=form.payload(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except (PermissionDenied, InvalidTransition, StaleRecord) as exc:
                messages.error(request, error_text(exc))
                return HttpResponseRedirect(change_url)
            else:
                messages.success(
                    request, f"{incident.number}: {Transition(name).label} done; now {incident.get_state_display()}."
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{Transition(name).label}: {incident.number}",
            "incident": incident,
            "transition": name,
            "transition_label": Transition(name).label,
            "form": form,
            "change_url": change_url,
            "state_colour": STATE_COLOURS.get(incident.state, "default"),
            "priority_colour": PRIORITY_COLOURS.get(incident.priority, "default"),
        }
        return TemplateResponse(request, "admin/incidents/incident/transition.html", context)

    # One detail action per transition (transition_start, transition_hold, ...) is attached below
    # the class by _transition_action(); each opens the same form view for its transition.

    # --- bulk actions ------------------------------------------------------------------------------
    def _bulk_targets(self, request: HttpRequest, queryset: QuerySet) -> list[Incident] | None:
        incidents = list(queryset.order_by("id").select_related("assignment_group")[: BULK_LIMIT + 1])
        if len(incidents) > BULK_LIMIT:
            self.message_user(
                request,
                f"A bulk action runs on at most {BULK_LIMIT} incidents at a time; narrow the selection.",
                messages.ERROR,
            )
            return None
        return incidents

    def _run_bulk(
        self, request: HttpRequest, incidents: list[Incident], step: Callable[[Incident], Any], done: str
    ) -> None:
        """Call `step` (a service call) per incident; report successes and each refusal with its reason."""
        succeeded: list[str] = []
        refused: list[str] = []
        for incident in incidents:
            try:
                step(incident)
            except SERVICE_ERRORS as exc:
                refused.append(f"{incident.number}: {error_text(exc)}")
            else:
                succeeded.append(incident.number)
        if succeeded:
            shown = ", ".join(succeeded[:20]) + (f" and {len(succeeded) - 20} more" if len(succeeded) > 20 else "")
            self.message_user(request, f"{len(succeeded)} incident(s) {done}: {shown}.", messages.SUCCESS)
        if refused:
            shown = " · ".join(refused[:20]) + (f" · and {len(refused) - 20} more" if len(refused) > 20 else "")
            self.message_user(request, f"{len(refused)} refused: {shown}", messages.WARNING)

    def _bulk_form(
        self, request: HttpRequest, queryset: QuerySet, incidents: list[Incident], form, action_name: str, title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "incidents": incidents,
            "action_name": action_name,
            "select_across": request.POST.get("select_across", "0"),
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "changelist_url": reverse("admin:incidents_incident_changelist"),
        }
        return TemplateResponse(request, "admin/incidents/incident/bulk_action.html", context)

    @action(description="Assign to me", permissions=["change"], icon="person_add")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        user = request.user
        my_groups = sorted(roles.group_ids(user))

        def step(incident: Incident) -> None:
            group = None
            if incident.assignment_group_id is None:
                if len(my_groups) != 1:
                    raise ValidationError(
                        {"assignment_group": ["It has no group; assign it to a group first (you are in several)."]}
                        if my_groups
                        else {"assignee": ["You are not a member of any assignment group."]}
                    )
                group = AssignmentGroup.objects.get(pk=my_groups[0])
            services.assign(incident.pk, actor=user, group=group, assignee=user)

        self._run_bulk(request, incidents, step, "assigned to you")
        return None

    @action(description="Assign to a group…", permissions=["change"], icon="group_add")
    def assign_to_group(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        form = AssignGroupForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            group = form.cleaned_data["group"]
            self._run_bulk(
                request,
                incidents,
                lambda incident: services.assign(incident.pk, actor=request.user, group=group),
                f"assigned to {group.name}",
            )
            return None
        return self._bulk_form(request, queryset, incidents, form, "assign_to_group", "Assign to a group")

    @action(description="Resolve…", permissions=["change"], icon="task_alt")
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        incidents = self._bulk_targets(request, queryset)
        if incidents is None:
            return None
        form = BulkResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            payload = dict(form.cleaned_data)
            self._run_bulk(
                request,
                incidents,
                lambda incident: services.run_transition(incident.pk, "resolve", actor=request.user, payload=payload),
                "resolved",
            )
            return None
        return self._bulk_form(request, queryset, incidents, form, "resolve_selected", "Resolve incidents")


# --- practice settings (one row) --------------------------------------------------------------
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


# --- SLA clocks, read-only ---------------------------------------------------------------------
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


__all__ = [
    "IncidentAdmin",
    "IncidentSettingsAdmin",
    "LargeTablePaginator",
    "SlaClockAdmin",
    "TimelineNarrator",
    "parse_number",
    "sla_summary",
]

# The alert and email intake pages (routes, alert state, inbound messages) live with their code.
from incidents.alerts import admin as _alerts_admin  # noqa: E402, F401


def _transition_action(name: str):
    """The change page button of one transition (Unfold detail action)."""

    @action(description=Transition(name).label, url_path=f"transition/{name}", icon=TRANSITION_ICONS[name])
    def run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, name)

    run.__name__ = run.__qualname__ = f"transition_{name}"
    return run


for _name in services.TRANSITION_NAMES:
    setattr(IncidentAdmin, f"transition_{_name}", _transition_action(_name))
