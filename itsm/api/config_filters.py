"""Explicit FilterSets of the configuration resources."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from itsm import roles
from itsm.choices import Criticality, SlaKind
from itsm.models import AssignmentGroup, BusinessCalendar, Category, Service, SlaPolicy

from .filters import CommaSeparatedFilter, IdFilter


class ServiceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Text search on slug and name")
    criticality = CommaSeparatedFilter(choices=Criticality.choices)
    owner_group = CommaSeparatedFilter(field_name="owner_group_id", coerce=int, choices=None)
    active = django_filters.BooleanFilter()

    class Meta:
        model = Service
        fields = ["active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class CategoryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    parent = IdFilter(field_name="parent_id")
    top_level = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull")
    active = django_filters.BooleanFilter()

    class Meta:
        model = Category
        fields = ["active"]


class AssignmentGroupFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    member = IdFilter(field_name="members__id", distinct=True)
    active = django_filters.BooleanFilter()

    class Meta:
        model = AssignmentGroup
        fields = ["active"]


class BusinessCalendarFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = BusinessCalendar
        fields = []


class SlaPolicyFilterSet(django_filters.FilterSet):
    kind = CommaSeparatedFilter(choices=SlaKind.choices)
    service = django_filters.CharFilter(field_name="service__slug")
    category = IdFilter(field_name="category_id")
    calendar = IdFilter(field_name="calendar_id")
    active = django_filters.BooleanFilter()

    class Meta:
        model = SlaPolicy
        fields = ["active"]


class UserFilterSet(django_filters.FilterSet):
    username = django_filters.CharFilter()
    role = CommaSeparatedFilter(field_name="groups__name", choices=roles.ALL_ROLES, distinct=True)
    group = CommaSeparatedFilter(field_name="assignment_groups__id", coerce=int, distinct=True)
    is_active = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="search")

    class Meta:
        model = get_user_model()
        fields = ["is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )
