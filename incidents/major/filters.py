"""Explicit FilterSet of the major incident list (API.md: state, service, manager, declared_after/before, q)."""

import re

import django_filters
from django.db.models import Q

from incidents.major.choices import MajorIncidentState
from incidents.major.models import MajorIncident
from itsm.api.filters import CommaSeparatedFilter, IdFilter, service_ids

NUMBER_RE = re.compile(r"^(MIM)?0*(\d{1,12})$", re.IGNORECASE)


class MajorIncidentFilterSet(django_filters.FilterSet):
    state = CommaSeparatedFilter(choices=MajorIncidentState.choices)
    service = CommaSeparatedFilter(method="filter_service", label="Comma-separated slugs of affected services")
    manager = IdFilter(field_name="manager_id", label="The manager's user id")
    declared_after = django_filters.IsoDateTimeFilter(field_name="declared_at", lookup_expr="gte")
    declared_before = django_filters.IsoDateTimeFilter(field_name="declared_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", label="Text search on number, title and impact summary")

    class Meta:
        model = MajorIncident
        fields: list[str] = []

    def filter_service(self, queryset, name, value):
        # A subquery rather than a join: a record with several matching services appears once.
        matching = MajorIncident.affected_services.through.objects.filter(service_id__in=service_ids(value))
        return queryset.filter(pk__in=matching.values("majorincident_id"))

    def search(self, queryset, name, value):
        value = value.strip()
        match = NUMBER_RE.match(value)
        text = Q(title__icontains=value) | Q(impact_summary__icontains=value)
        if match:
            return queryset.filter(Q(number=f"MIM{int(match.group(2)):07d}") | text)
        return queryset.filter(text)
