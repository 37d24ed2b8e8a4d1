"""Thin viewsets of the configuration resources and the read-only users list."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from rest_framework import mixins, viewsets
from rest_framework.generics import get_object_or_404

from itsm.models import AssignmentGroup, BusinessCalendar, Category, PriorityMatrixEntry, Service, SlaPolicy
from itsm.roles import ALL_ROLES

from . import config_filters as filters
from . import config_serializers as serializers
from .mixins import ETagMixin, IdempotentCreateMixin


class ConfigViewSet(
    IdempotentCreateMixin,
    ETagMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """GET for every authenticated user; POST/PATCH for ITSM Administrators (no PUT, no DELETE:
    configuration is deactivated with `active`, never deleted, so history stays meaningful)."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["id", "name"]
    ordering = ["name", "id"]


class IdOrSlugLookupMixin:
    """Detail URLs accept the numeric id or the slug."""

    lookup_value_regex = "[A-Za-z0-9_-]+"

    def get_object(self):
        queryset = self.filter_queryset(self.get_queryset())
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        field = "pk" if str(value).isdigit() else "slug"
        obj = get_object_or_404(queryset, **{field: value})
        self.check_object_permissions(self.request, obj)
        return obj


class ServiceViewSet(IdOrSlugLookupMixin, ConfigViewSet):
    queryset = Service.objects.all()
    serializer_class = serializers.ServiceSerializer
    filterset_class = filters.ServiceFilterSet
    ordering_fields = ["id", "name", "slug", "criticality"]


class CategoryViewSet(ConfigViewSet):
    queryset = Category.objects.select_related("parent")
    serializer_class = serializers.CategorySerializer
    filterset_class = filters.CategoryFilterSet


class AssignmentGroupViewSet(ConfigViewSet):
    queryset = AssignmentGroup.objects.prefetch_related("members")
    serializer_class = serializers.AssignmentGroupSerializer
    filterset_class = filters.AssignmentGroupFilterSet


class PriorityMatrixViewSet(
    ETagMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """The nine cells of impact x urgency; administrators change a cell's priority."""

    http_method_names = ["get", "patch", "head", "options"]
    queryset = PriorityMatrixEntry.objects.all()
    serializer_class = serializers.PriorityMatrixEntrySerializer
    pagination_class = None
    ordering_fields = ["impact", "urgency"]
    ordering = ["impact", "urgency"]


class BusinessCalendarViewSet(ConfigViewSet):
    queryset = BusinessCalendar.objects.prefetch_related("working_periods", "holidays")
    serializer_class = serializers.BusinessCalendarSerializer
    filterset_class = filters.BusinessCalendarFilterSet


class SlaPolicyViewSet(ConfigViewSet):
    queryset = SlaPolicy.objects.select_related("service", "category", "calendar")
    serializer_class = serializers.SlaPolicySerializer
    filterset_class = filters.SlaPolicyFilterSet
    ordering_fields = ["id", "name", "kind", "target_minutes"]


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """People with their roles and assignment groups; users are managed in the admin."""

    serializer_class = serializers.UserSerializer
    filterset_class = filters.UserFilterSet
    ordering_fields = ["id", "username"]
    ordering = ["username", "id"]

    def get_queryset(self):
        from django.contrib.auth.models import Group

        return get_user_model().objects.prefetch_related(
            Prefetch("groups", queryset=Group.objects.filter(name__in=ALL_ROLES)), "assignment_groups"
        )
