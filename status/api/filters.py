"""Explicit FilterSet of the maintenance window list: state, service (slugs), starts_after/before."""

import django_filters

from itsm.api.filters import CommaSeparatedFilter, service_ids
from status.choices import MaintenanceState
from status.models import MaintenanceWindow


class MaintenanceWindowFilterSet(django_filters.FilterSet):
    state = CommaSeparatedFilter(choices=MaintenanceState.choices)
    service = CommaSeparatedFilter(method="filter_service", label="Comma-separated service slugs")
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte", label="starts_at >=")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt", label="starts_at <")

    class Meta:
        model = MaintenanceWindow
        fields: list[str] = []

    def filter_service(self, queryset, name, value):
        matching = MaintenanceWindow.services.through.objects.filter(service_id__in=service_ids(value))
        return queryset.filter(pk__in=matching.values("maintenancewindow_id"))
