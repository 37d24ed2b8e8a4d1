"""Stakeholder updates of a major incident (`.../updates/`): newest first, post one.

Thin views over `incidents.major.updates`; `{id}` is the major incident's id or number.
"""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents.major import updates as service
from incidents.major.choices import Audience, UpdateStatus
from incidents.major.models import StakeholderUpdate
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, run_idempotently
from itsm.api.pagination import PageNumberPagination
from itsm.api.serializers import StrictSerializer

from .common import get_major_incident
from .responders import RECORD


class StakeholderUpdateSerializer(serializers.ModelSerializer):
    """A posted update (API.md "stakeholder update") with its cadence compliance
    (`due_at`, `late_seconds`, `on_time`)."""

    on_time = serializers.BooleanField(read_only=True)

    class Meta:
        model = StakeholderUpdate
        fields = [
            "id",
            "audience",
            "status",
            "body",
            "next_update_due_at",
            "posted_at",
            "author",
            "due_at",
            "late_seconds",
            "on_time",
        ]
        read_only_fields = fields


class PostUpdateSerializer(StrictSerializer):
    """Body of POST .../updates/."""

    audience = serializers.ChoiceField(choices=Audience.choices)
    status = serializers.ChoiceField(choices=UpdateStatus.choices)
    body = serializers.CharField(max_length=100_000)
    next_update_due_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="In the future; defaults to now + the record's cadence."
    )

    def validate_next_update_due_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class UpdatePagination(PageNumberPagination):
    page_size = 50


class UpdatesView(GenericAPIView):
    """The stakeholder updates of one major incident."""

    permission_classes = [IsAuthenticated]
    serializer_class = StakeholderUpdateSerializer
    pagination_class = UpdatePagination
    filter_backends: list = []
    queryset = StakeholderUpdate.objects.none()

    @extend_schema(parameters=[RECORD], responses={200: StakeholderUpdateSerializer(many=True)})
    def get(self, request, id: str):
        """Every update, newest first (page numbers)."""
        mi = get_major_incident(id)
        rows = StakeholderUpdate.objects.filter(major_incident=mi).order_by("-posted_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(StakeholderUpdateSerializer(page, many=True).data)

    @extend_schema(
        request=PostUpdateSerializer,
        responses={201: StakeholderUpdateSerializer},
        parameters=[RECORD, IDEMPOTENCY_PARAMETER],
    )
    def post(self, request, id: str):
        """Post an update: delivered to the audience's people, next update due as given or after the cadence."""

        def handler():
            mi = get_major_incident(id)
            body = PostUpdateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            update = service.post_update(mi, actor=request.user, **body.validated_data)
            return Response(StakeholderUpdateSerializer(update).data, status=status.HTTP_201_CREATED)

        return run_idempotently(request, handler)


urlpatterns: list = [
    path("major-incidents/<str:id>/updates/", UpdatesView.as_view(), name="major-incident-updates"),
]
