"""The incident change list and the console's list filters (queues, SLA, monitoring, choices, dates).

Built for a million incidents: the list never counts the whole table (`itsm.admin_large`),
orders by `-id`, joins its foreign keys and prefetches the live SLA clocks with their calendars,
so a page costs the same number of queries whatever its length.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.contrib.filters.admin import ChoicesCheckboxFilter, RadioFilter, RangeDateTimeFilter
from unfold.utils import parse_datetime_str

from incidents.choices import Channel, Queue
from incidents.models import SlaClock
from incidents.models.sla import LIVE_STAGES, ClockStage
from incidents.sla import CALENDAR_PREFETCH
from itsm.admin_large import LargeTableChangeList


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


class IncidentChangeList(LargeTableChangeList):
    """The incident list: each row's live SLA clocks come in with the page (constant queries)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters=None) -> QuerySet:
        return super().get_queryset(request, exclude_parameters).prefetch_related(live_clocks_prefetch())


class QueueFilter(RadioFilter):
    """Whose work: My work (open, mine or my groups' unassigned), assigned to me, my groups, unassigned."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return Queue.choices

    def queryset(self, request, queryset):
        return queryset.in_queue(self.value(), request.user) if self.value() else queryset


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
