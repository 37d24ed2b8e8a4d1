"""Incident endpoints: thin viewset whose actions call incidents.services."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents import policy, services
from incidents.choices import Transition
from incidents.filters import IncidentFilterSet
from incidents.models import Incident
from itsm.api.mixins import (
    IDEMPOTENCY_PARAMETER,
    IF_MATCH_PARAMETER,
    compute_etag,
    expected_version,
    run_idempotently,
)
from itsm.api.pagination import CursorPagination, PageNumberPagination

from . import serializers as s


class IncidentCursorPagination(CursorPagination):
    ordering = "-id"


class TimelineCursorPagination(CursorPagination):
    ordering = "id"


def _with_etag(response: Response, incident: Incident) -> Response:
    response["ETag"] = compute_etag(incident)
    return response


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents: list, create, read, PATCH fields; transitions, comments and timeline as sub-resources.

    Detail URLs take the id or the number (`/api/v1/incidents/INC0000123/`).
    """

    permission_classes = [IsAuthenticated]
    pagination_class = IncidentCursorPagination
    filterset_class = IncidentFilterSet
    ordering_fields = ["id", "number", "opened_at", "updated_at", "priority"]
    ordering = ["-id"]
    lookup_value_regex = "[A-Za-z0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        # Rendered rows come with what the representation shows (watchers and clocks prefetched,
        # `serializers.INCIDENT_PREFETCHES`); transitions, comments and timeline need none of it.
        if self.action in ("list", "retrieve"):
            return s.incident_queryset()
        return Incident.objects.select_related("service")

    def get_serializer_class(self):
        return s.IncidentSerializer

    def get_object(self):
        value = self.kwargs[self.lookup_field]
        field = "pk" if value.isdigit() else "number"
        return get_object_or_404(self.get_queryset(), **{field: value.upper() if field == "number" else value})

    def _respond(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        """The incident as detail renders it, read back after the use case that changed it."""
        incident = s.incident_queryset().get(pk=incident.pk)
        response = Response(self.get_serializer(incident).data, status=code)
        return _with_etag(response, incident)

    @extend_schema(
        request=s.IncidentWriteSerializer,
        responses={201: s.IncidentSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        def handler():
            decision = policy.can_create(request.user)
            if not decision:
                raise PermissionDenied(decision.reason)
            body = s.IncidentWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            incident = services.open_incident(actor=request.user, **body.validated_data)
            response = self._respond(incident, status.HTTP_201_CREATED)
            response["Location"] = response.data["links"]["self"]
            return response

        return run_idempotently(request, handler)

    def retrieve(self, request, *args, **kwargs):
        incident = self.get_object()
        return _with_etag(Response(self.get_serializer(incident).data), incident)

    @extend_schema(
        request=s.IncidentWriteSerializer,
        responses={200: s.IncidentSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        body = s.IncidentWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        incident = services.update_incident(
            incident, actor=request.user, changes=body.validated_data, expected_version=expected_version(request)
        )
        return self._respond(incident)

    @extend_schema(responses={200: s.TransitionInfoSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="transitions", filter_backends=[], pagination_class=None)
    def transitions(self, request, pk=None):
        """The transitions this user may run now, with the fields each needs."""
        incident = self.get_object()
        base = request.build_absolute_uri(f"{reverse('incident-detail', args=[incident.pk])}transitions/")
        data = []
        for name in services.available_transitions(incident, request.user):
            fields = services.transition_requirements(name)
            data.append(
                {
                    "name": name,
                    "label": Transition(name).label,
                    "required_fields": [f for f, required in fields.items() if required],
                    "optional_fields": [f for f, required in fields.items() if not required],
                    "url": f"{base}{name}/",
                }
            )
        return _with_etag(Response(data), incident)

    @extend_schema(
        request=s.TransitionBodySerializer,
        responses={200: s.IncidentSerializer},
        parameters=[
            IF_MATCH_PARAMETER,
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=Transition.values, description="The transition."),
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)", filter_backends=[])
    def run_transition(self, request, pk=None, name=None):
        """Run one transition; 409 when it is not allowed from the current state."""
        if name not in services.TRANSITION_NAMES:
            raise NotFound(f"Unknown transition '{name}'. Known: {', '.join(services.TRANSITION_NAMES)}.")
        incident = self.get_object()
        body = s.TransitionBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.run_transition(
            incident,
            name,
            actor=request.user,
            payload=body.validated_data,
            expected_version=expected_version(request),
        )
        return self._respond(incident)

    @extend_schema(methods=["get"], responses={200: s.CommentSerializer(many=True)})
    @extend_schema(methods=["post"], request=s.CommentWriteSerializer, responses={201: s.CommentSerializer})
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="comments",
        pagination_class=PageNumberPagination,
        filter_backends=[],
    )
    def comments(self, request, pk=None):
        """Public comments and internal work notes."""
        incident = self.get_object()
        if request.method == "POST":
            body = s.CommentWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            comment = services.add_comment(incident, actor=request.user, **body.validated_data)
            return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(incident.comments.order_by("id"))
        return self.get_paginated_response(s.CommentSerializer(page, many=True).data)

    @extend_schema(responses={200: s.TimelineEventSerializer(many=True)})
    @action(
        detail=True,
        methods=["get"],
        url_path="timeline",
        pagination_class=TimelineCursorPagination,
        filter_backends=[],
    )
    def timeline(self, request, pk=None):
        """The append-only history, oldest first."""
        incident = self.get_object()
        page = self.paginate_queryset(incident.timeline.all())
        return self.get_paginated_response(s.TimelineEventSerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={200: s.IncidentSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    @action(detail=True, methods=["post"], url_path="assign-to-me", filter_backends=[])
    def assign_to_me(self, request, pk=None):
        """Assign the incident to the caller, in the caller's group when it has none (the console's
        "Assign to me"); 400 when that group cannot be chosen, 403/409/412 as for other changes."""
        incident = self.get_object()
        incident = services.assign_to_me(incident, actor=request.user, expected_version=expected_version(request))
        return self._respond(incident)
