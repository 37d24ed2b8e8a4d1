"""Thin viewsets of the communications API: webhooks, the delivery log, subscriptions, rules,
templates, and the list of event types."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm import roles
from itsm.api.errors import Conflict
from itsm.api.mixins import ETagMixin, IdempotentCreateMixin
from itsm.api.pagination import CursorPagination

from .. import filters, registry, services
from ..models import Notification, NotificationRule, NotificationTemplate, Subscription, WebhookEndpoint
from . import serializers
from .permissions import ManagesWebhooks, RetriesNotifications


def _is_admin(user) -> bool:
    return roles.has_role(user, roles.ADMINISTRATOR)


class WebhookEndpointViewSet(IdempotentCreateMixin, ETagMixin, viewsets.ModelViewSet):
    """Outbound endpoints. Administrators see all; an integration sees the ones it created."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = serializers.WebhookEndpointSerializer
    filterset_class = filters.WebhookEndpointFilterSet
    permission_classes = [ManagesWebhooks]
    ordering_fields = ["id", "url", "created_at"]
    ordering = ["id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookEndpoint.objects.none()
        queryset = WebhookEndpoint.objects.all()
        return queryset if _is_admin(self.request.user) else queryset.filter(created_by=self.request.user)

    @extend_schema(request=None, responses={202: serializers.NotificationSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `webhook.test` event to this endpoint now (202: queued; see the delivery log)."""
        endpoint = self.get_object()
        if not endpoint.active:
            raise Conflict("The endpoint is disabled; activate it first.", code="endpoint_disabled")
        notification = services.send_test_event(endpoint, actor=request.user)
        return Response(serializers.NotificationSerializer(notification).data, status=status.HTTP_202_ACCEPTED)


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log: what was sent to whom, its status and every attempt (detail)."""

    filterset_class = filters.NotificationFilterSet
    pagination_class = CursorPagination
    permission_classes = [RetriesNotifications]
    ordering_fields = ["id"]
    ordering = ["-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        queryset = Notification.objects.visible_to(self.request.user)
        if self.action != "list":
            queryset = queryset.prefetch_related("attempt_log")
        return queryset

    def get_serializer_class(self):
        return serializers.NotificationSerializer if self.action == "list" else serializers.NotificationDetailSerializer

    @extend_schema(request=None, responses={202: serializers.NotificationDetailSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Send again now (failed, dead, suppressed or held deliveries); 409 otherwise."""
        notification = self.get_object()
        try:
            services.retry_notification(notification.pk)
        except services.NotRetryable as exc:
            raise Conflict(str(exc), code="not_retryable") from exc
        notification = self.get_queryset().get(pk=notification.pk)
        return Response(serializers.NotificationDetailSerializer(notification).data, status=status.HTTP_202_ACCEPTED)


class SubscriptionViewSet(
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Follow a service or a record. Users manage their own; administrators everyone's."""

    serializer_class = serializers.SubscriptionSerializer
    filterset_class = filters.SubscriptionFilterSet
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]

    def get_permissions(self):
        from rest_framework.permissions import IsAuthenticated

        return [IsAuthenticated()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        queryset = Subscription.objects.select_related("service")
        return queryset if _is_admin(self.request.user) else queryset.filter(user=self.request.user)

    def perform_create(self, serializer):
        try:
            with transaction.atomic():
                serializer.save(created_by=self.request.user)
        except IntegrityError as exc:
            raise Conflict("This subscription exists already.", code="duplicate") from exc


class NotificationRuleViewSet(IdempotentCreateMixin, ETagMixin, viewsets.ModelViewSet):
    """Notification rules: read by everyone, changed by administrators (deactivate, never delete,
    so the delivery log keeps naming them)."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = NotificationRule.objects.prefetch_related("users", "endpoints", "services", "groups")
    serializer_class = serializers.NotificationRuleSerializer
    filterset_class = filters.NotificationRuleFilterSet
    ordering_fields = ["id", "name"]
    ordering = ["name", "id"]


class NotificationTemplateViewSet(IdempotentCreateMixin, ETagMixin, viewsets.ModelViewSet):
    """Administrators' versions of messages; DELETE returns to the shipped default."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = NotificationTemplate.objects.all()
    serializer_class = serializers.NotificationTemplateSerializer
    filterset_class = filters.NotificationTemplateFilterSet
    ordering_fields = ["id", "event", "channel"]
    ordering = ["event", "channel", "id"]

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer)

    def _save(self, serializer):
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError as exc:
            raise Conflict("A template for this event and channel exists already.", code="duplicate") from exc


class EventTypeViewSet(viewsets.ViewSet):
    """The event types rules, endpoints and subscriptions may name."""

    pagination_class = None

    @extend_schema(responses=serializers.EventTypeSerializer(many=True))
    def list(self, request):
        data = [{"name": name, "label": registry.label(name)} for name in registry.event_types()]
        return Response(serializers.EventTypeSerializer(data, many=True).data)
