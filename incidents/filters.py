"""Explicit FilterSet of the incident list (API.md "Filtering and ordering")."""

import re

import django_filters
from django.db.models import Exists, OuterRef, Q
from rest_framework.exceptions import ValidationError

from incidents.choices import Channel, IncidentState, Queue
from incidents.models import Incident, SlaClock
from incidents.models.sla import LIVE_STAGES, ClockStage
from itsm.api.filters import CommaSeparatedFilter, IdFilter, parse_id, service_ids

NUMBER_RE = re.compile(r"^(INC)?0*(\d{1,12})$", re.IGNORECASE)


class IncidentFilterSet(django_filters.FilterSet):
    state = CommaSeparatedFilter(choices=IncidentState.choices)
    priority = CommaSeparatedFilter(choices=[1, 2, 3, 4, 5], coerce=int)
    impact = CommaSeparatedFilter(choices=[1, 2, 3], coerce=int)
    urgency = CommaSeparatedFilter(choices=[1, 2, 3], coerce=int)
    channel = CommaSeparatedFilter(choices=Channel.choices)
    service = CommaSeparatedFilter(method="filter_service", label="Comma-separated service slugs")
    category = CommaSeparatedFilter(field_name="category_id", coerce=int)
    assignment_group = CommaSeparatedFilter(field_name="assignment_group_id", coerce=int)
    assignee = CommaSeparatedFilter(
        method="filter_assignee",
        label="Comma-separated user ids; `me` for yourself, `none` for unassigned",
        item_schema={"type": "string", "pattern": "^(me|none|[0-9]+)$"},
    )
    caller = IdFilter(field_name="caller_id")
    parent = IdFilter(field_name="parent_id")
    dedup_key = django_filters.CharFilter()
    from_monitoring = django_filters.BooleanFilter(method="filter_from_monitoring")
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    q = django_filters.CharFilter(method="search", label="Text search on number, title and description")
    sla_breached = django_filters.BooleanFilter(method="filter_sla_breached", label="Has a breached SLA clock")
    sla_due_before = django_filters.IsoDateTimeFilter(
        method="filter_sla_due_before", label="A live SLA clock is due before this moment"
    )
    sla_paused = django_filters.BooleanFilter(method="filter_sla_paused", label="Has a paused SLA clock")
    queue = django_filters.ChoiceFilter(
        choices=Queue.choices,
        method="filter_queue",
        label="The console's queues: my_work (open, mine or my groups' unassigned), mine, my_groups, unassigned",
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_service(self, queryset, name, value):
        return queryset.filter(service_id__in=service_ids(value))

    def filter_assignee(self, queryset, name, value):
        ids, unassigned = [], False
        for item in value:
            if item == "me":
                ids.append(self.request.user.pk)
            elif item == "none":
                unassigned = True
            elif parse_id(item) is not None:
                ids.append(parse_id(item))
            else:
                raise ValidationError({"assignee": [f"'{item}' is not a user id, 'me' or 'none'."]})
        condition = Q(assignee_id__in=ids) if ids else Q(pk__in=[])
        if unassigned:
            condition |= Q(assignee__isnull=True)
        return queryset.filter(condition)

    def filter_from_monitoring(self, queryset, name, value):
        monitoring = Q(channel=Channel.MONITORING) | ~Q(dedup_key="")
        return queryset.filter(monitoring) if value else queryset.exclude(monitoring)

    def filter_sla_breached(self, queryset, name, value):
        breached = Exists(SlaClock.objects.filter(incident=OuterRef("pk"), breached_at__isnull=False))
        return queryset.filter(breached if value else ~breached)

    def filter_sla_due_before(self, queryset, name, value):
        return queryset.filter(
            Exists(
                SlaClock.objects.filter(
                    incident=OuterRef("pk"), stage__in=LIVE_STAGES, stopped_at__isnull=True, due_at__lt=value
                )
            )
        )

    def filter_sla_paused(self, queryset, name, value):
        paused = Exists(SlaClock.objects.filter(incident=OuterRef("pk"), stage=ClockStage.PAUSED))
        return queryset.filter(paused if value else ~paused)

    def search(self, queryset, name, value):
        value = value.strip()
        match = NUMBER_RE.match(value)
        if match:
            number = f"INC{int(match.group(2)):07d}"
            return queryset.filter(Q(number=number) | Q(title__icontains=value))
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))

    def filter_queue(self, queryset, name, value):
        return queryset.in_queue(value, self.request.user)
