"""Explicit FilterSets of the problem list and the known error search (API.md "Filtering and ordering")."""

import re

import django_filters
from django.db.models import Q

from itsm.api.filters import CommaSeparatedFilter, IdFilter, service_ids
from problems.choices import KnownErrorState, ProblemSource, ProblemState
from problems.models import KnownError, Problem

NUMBER_RE = re.compile(r"^(PRB)?0*(\d{1,12})$", re.IGNORECASE)


class ProblemFilterSet(django_filters.FilterSet):
    state = CommaSeparatedFilter(choices=ProblemState.choices)
    priority = CommaSeparatedFilter(choices=[1, 2, 3, 4, 5], coerce=int)
    service = CommaSeparatedFilter(method="filter_service", label="Comma-separated service slugs")
    category = CommaSeparatedFilter(field_name="category_id", coerce=int, label="Comma-separated category ids")
    owner = IdFilter(field_name="owner_id", label="The owner's user id")
    assignment_group = CommaSeparatedFilter(
        field_name="assignment_group_id", coerce=int, label="Comma-separated assignment group ids"
    )
    source = CommaSeparatedFilter(choices=ProblemSource.choices)
    has_workaround = django_filters.BooleanFilter(method="filter_has_workaround", label="Has a workaround")
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", label="Text search on number, title and description")

    class Meta:
        model = Problem
        fields: list[str] = []

    def filter_service(self, queryset, name, value):
        return queryset.filter(service_id__in=service_ids(value))

    def filter_has_workaround(self, queryset, name, value):
        # A workaround of only spaces is none (the transition conditions read it so too).
        blank = Q(workaround="") | Q(workaround__regex=r"^\s+$")
        return queryset.exclude(blank) if value else queryset.filter(blank)

    def search(self, queryset, name, value):
        value = value.strip()
        match = NUMBER_RE.match(value)
        text = Q(title__icontains=value) | Q(description__icontains=value)
        if match:
            return queryset.filter(Q(number=f"PRB{int(match.group(2)):07d}") | text)
        return queryset.filter(text)


class KnownErrorFilterSet(django_filters.FilterSet):
    """The known error search's parameters, parsed and documented; the view hands them to
    `problems.kedb.search` (which ranks) rather than filtering a queryset here."""

    q = django_filters.CharFilter(method="noop", label="Words to search in title, symptoms, root cause, workaround")
    service = CommaSeparatedFilter(method="noop", label="Comma-separated service slugs")
    category = CommaSeparatedFilter(method="noop", coerce=int, label="Comma-separated category ids")
    state = django_filters.ChoiceFilter(
        choices=KnownErrorState.choices, method="noop", label="published (the default) or retired"
    )

    class Meta:
        model = KnownError
        fields: list[str] = []

    def noop(self, queryset, name, value):
        return queryset
