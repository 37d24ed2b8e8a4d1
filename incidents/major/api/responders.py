"""Responders of a major incident: list and page (`.../responders/`), acknowledge and page again.

Thin views over `incidents.major.responders`; `{id}` is the major incident's id or number.
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents.major import responders as service
from incidents.major.models import Responder
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, run_idempotently
from itsm.api.serializers import StrictSerializer

from .common import get_major_incident

# The record's path parameter, shared with the updates endpoints.
RECORD = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The major incident's id or number (MIM...).")


class ResponderSerializer(serializers.ModelSerializer):
    """A paged responder (API.md "responder", plus `last_paged_at` and `unanswered_at`)."""

    class Meta:
        model = Responder
        fields = [
            "id",
            "user",
            "role",
            "assignment_group",
            "paged_at",
            "acknowledged_at",
            "page_count",
            "last_paged_at",
            "unanswered_at",
        ]
        read_only_fields = fields


class PageRequestSerializer(StrictSerializer):
    """Body of POST .../responders/: exactly one of `user` and `assignment_group`, optional `role`."""

    user = serializers.IntegerField(required=False, allow_null=True, help_text="A user id (an active console user).")
    assignment_group = serializers.IntegerField(
        required=False, allow_null=True, help_text="Pages every active member of this group."
    )
    role = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)

    def validate(self, attrs):
        if (attrs.get("user") is None) == (attrs.get("assignment_group") is None):
            message = "Give exactly one of user or assignment_group."
            raise serializers.ValidationError({"user": [message], "assignment_group": [message]})
        return attrs


def _responder(mi, rid: int) -> Responder:
    return get_object_or_404(Responder.objects.select_related("major_incident"), pk=rid, major_incident=mi)


class RespondersView(GenericAPIView):
    """The response team of one major incident."""

    permission_classes = [IsAuthenticated]
    serializer_class = ResponderSerializer
    pagination_class = None
    filter_backends: list = []
    queryset = Responder.objects.none()

    @extend_schema(parameters=[RECORD], responses={200: ResponderSerializer(many=True)})
    def get(self, request, id: str):
        """Everyone paged into the response, in the order they were paged."""
        mi = get_major_incident(id)
        rows = Responder.objects.filter(major_incident=mi).order_by("id")
        return Response(ResponderSerializer(rows, many=True).data)

    @extend_schema(
        request=PageRequestSerializer,
        responses={201: ResponderSerializer(many=True), 200: ResponderSerializer(many=True)},
        parameters=[RECORD, IDEMPOTENCY_PARAMETER],
    )
    def post(self, request, id: str):
        """Page a person or every active member of a group (201 with the responders; 200 when all
        of them were already responding: page them again with `.../{rid}/page/`)."""

        def handler():
            mi = get_major_incident(id)
            body = PageRequestSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            rows = service.page_responders(mi, actor=request.user, **body.validated_data)
            code = status.HTTP_201_CREATED if any(getattr(r, "paged_now", False) for r in rows) else status.HTTP_200_OK
            return Response(ResponderSerializer(rows, many=True).data, status=code)

        return run_idempotently(request, handler)


class AcknowledgeView(GenericAPIView):
    """POST: the responder answered the page (their own; a Major Incident Manager for them)."""

    permission_classes = [IsAuthenticated]
    serializer_class = ResponderSerializer
    queryset = Responder.objects.none()

    @extend_schema(request=None, parameters=[RECORD], responses={200: ResponderSerializer})
    def post(self, request, id: str, rid: int):
        """Acknowledge the page (repeating it changes nothing)."""
        responder = _responder(get_major_incident(id), rid)
        responder = service.acknowledge(responder, actor=request.user)
        return Response(ResponderSerializer(responder).data)


class PageAgainView(GenericAPIView):
    """POST: page the responder once more (the console's "page again")."""

    permission_classes = [IsAuthenticated]
    serializer_class = ResponderSerializer
    queryset = Responder.objects.none()

    @extend_schema(request=None, parameters=[RECORD], responses={200: ResponderSerializer})
    def post(self, request, id: str, rid: int):
        """Send the page again (one more `page_count`)."""
        responder = _responder(get_major_incident(id), rid)
        responder = service.page_again(responder, actor=request.user)
        return Response(ResponderSerializer(responder).data)


urlpatterns: list = [
    path("major-incidents/<str:id>/responders/", RespondersView.as_view(), name="major-incident-responders"),
    path(
        "major-incidents/<str:id>/responders/<int:rid>/acknowledge/",
        AcknowledgeView.as_view(),
        name="major-incident-responder-acknowledge",
    ),
    path(
        "major-incidents/<str:id>/responders/<int:rid>/page/",
        PageAgainView.as_view(),
        name="major-incident-responder-page",
    ),
]
