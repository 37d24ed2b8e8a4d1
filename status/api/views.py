"""Maintenance window endpoints: a thin viewset whose writes call `status.maintenance.services`.

Administrators and Major Incident Managers write; every console role reads
(`status.maintenance.policy`).
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm.api.mixins import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, compute_etag, expected_version, run_idempotently
from itsm.api.permissions import method_not_routed
from itsm.models import Service
from status.maintenance import policy, services
from status.models import MaintenanceWindow

from . import serializers as s
from .filters import MaintenanceWindowFilterSet


class MaintenancePermission(permissions.BasePermission):
    """Reading for console roles, writing for administrators and MIMs; the refusal says why."""

    def has_permission(self, request, view) -> bool:
        if method_not_routed(view):
            return True
        if request.method in permissions.SAFE_METHODS:
            decision = policy.can_view(request.user)
        else:
            decision = policy.can_manage(request.user)
        self.message = decision.reason
        return bool(decision)


def _with_etag(response: Response, window: MaintenanceWindow) -> Response:
    response["ETag"] = compute_etag(window)
    return response


class MaintenanceWindowViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Maintenance windows: list, announce, read, change, cancel."""

    permission_classes = [MaintenancePermission]
    serializer_class = s.MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilterSet
    ordering_fields = ["starts_at", "ends_at", "id"]
    ordering = ["starts_at", "id"]
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        slugs = Prefetch("services", queryset=Service.objects.only("id", "slug").order_by("slug"))
        return MaintenanceWindow.objects.prefetch_related(slugs)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=int(self.kwargs["pk"]))

    def _respond(self, window: MaintenanceWindow, code: int = status.HTTP_200_OK) -> Response:
        window = self.get_queryset().get(pk=window.pk)
        return _with_etag(Response(s.MaintenanceWindowSerializer(window).data, status=code), window)

    @extend_schema(
        request=s.MaintenanceWindowCreateSerializer,
        responses={201: s.MaintenanceWindowSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        """Announce a window; the subscribers of its services are told (and again when it starts)."""

        def handler():
            body = s.MaintenanceWindowCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            window = services.announce(actor=request.user, **body.validated_data)
            response = self._respond(window, status.HTTP_201_CREATED)
            response["Location"] = request.build_absolute_uri(f"{window.pk}/")
            return response

        return run_idempotently(request, handler)

    def retrieve(self, request, *args, **kwargs):
        window = self.get_object()
        return _with_etag(Response(self.get_serializer(window).data), window)

    @extend_schema(
        request=s.MaintenanceWindowUpdateSerializer,
        responses={200: s.MaintenanceWindowSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    def partial_update(self, request, *args, **kwargs):
        """Change a scheduled or running window (409 once it is over; 412 on a stale If-Match)."""
        window = self.get_object()
        body = s.MaintenanceWindowUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        window = services.update_window(
            window, actor=request.user, changes=dict(body.validated_data), expected_version=expected_version(request)
        )
        return self._respond(window)

    @extend_schema(
        request=s.CancelSerializer, responses={200: s.MaintenanceWindowSerializer}, parameters=[IF_MATCH_PARAMETER]
    )
    @action(detail=True, methods=["post"], url_path="transitions/cancel", filter_backends=[])
    def cancel(self, request, pk=None):
        """Cancel a scheduled or running window (409 once it is over); subscribers are told."""
        window = self.get_object()
        body = s.CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        window = services.cancel(
            window,
            actor=request.user,
            reason=body.validated_data.get("reason", ""),
            expected_version=expected_version(request),
        )
        return self._respond(window)
