"""Explicit FilterSet of the maintenance window list: state, service (slugs), starts_after/before."""

import django_filters
from rest_framework.exceptions import ValidationError

from itsm.api.filters import CommaSeparatedFilter
from itsm.models import Service
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
        slugs = list(value)
        found = dict(Service.objects.filter(slug__in=slugs).values_list("slug", "id"))
        unknown = [s for s in slugs if s not in found]
        if unknown:
            raise ValidationError({"service": [f"Unknown service(s): {', '.join(unknown)}."]})
        matching = MaintenanceWindow.services.through.objects.filter(service_id__in=found.values())
        return queryset.filter(pk__in=matching.values("maintenancewindow_id"))
